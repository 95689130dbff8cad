"""Golden files: DESIGN.md's worked example (101,798.12 kr.) as a Peppol
invoice, an adjustment lowering it as a credit note, each valid by the
official rules (0 fatal findings); a document broken on purpose is refused,
which proves the validator really runs."""

import re
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from market.finance import einvoice
from market.finance.ubl import Buyer, Payment, Seller, render
from market.settlement.explain import render as explain
from market.settlement.rules import MonthActivity, settle
from tests.market.finance.conftest import BUYER_REFERENCE, GLN, fatal_findings
from tests.market.settlement.test_rules import DESIGN_TERMS

GOLDEN = Path(__file__).parent / "golden"
SELLER = Seller("Madhuset Aarhus ApS", "12345674", "Skolegade 1", "8000", "Aarhus C")
BUYER = Buyer("Aarhus Kommune", GLN, BUYER_REFERENCE)
ACCOUNT = Payment("VM-0751-202610-1", iban="DK5000400440116243", bic="DABADKKK")


def _decimal(value: Fraction | None) -> Decimal | None:
    return None if value is None else Decimal(value.numerator) / value.denominator


def worked_example_lines() -> list[einvoice.SourceLine]:
    statement = settle(
        DESIGN_TERMS,
        MonthActivity(
            delivered=1250,
            delivered_on_time=1150,
            provider_fault_failures=30,
            citizen_absent=12,
            late_cancelled=7,
        ),
    )
    assert statement.total_ore == 10_179_812
    return [
        einvoice.SourceLine(
            kind=line.kind.value,
            quantity=line.quantity,
            unit_amount_ore=_decimal(line.unit_amount_ore),
            rate_bp=line.rate_bp,
            amount_ore=line.amount_ore,
            text=explain(line.message, line.params, "da"),
            params=line.params,
        )
        for line in statement.lines
    ]


def worked_example_invoice(tax: einvoice.Tax | None = None, payment: Payment = ACCOUNT):
    document = einvoice.statement_invoice(
        number="VM-0751-202610-1",
        statement_id=1,
        month_on=date(2026, 10, 1),
        period_end=date(2026, 10, 31),
        approved_on=date(2026, 11, 3),
        seller=SELLER,
        buyer=BUYER,
        tax=tax or einvoice.tax_of("E", 0, ""),
        payment=payment,
        lines=worked_example_lines(),
        audit="audit-chain:1234:" + "5f" * 32,
    )
    assert document is not None
    return document


def worked_example_credit_note():
    invoice = worked_example_invoice()
    return einvoice.adjustment_credit_note(
        number="VM-0751-K7",
        adjustment_id=7,
        amount_ore=-4250,
        reason="Halv pris for en levering, der kom kold frem (klage 2026-117)",
        issue_on=date(2026, 11, 12),
        corrected_invoice=invoice.number,
        corrected_issue_on=invoice.issue_on,
        corrected_statement_id=1,
        month_on=date(2026, 10, 1),
        period_end=date(2026, 10, 31),
        seller=SELLER,
        buyer=BUYER,
        tax=invoice.tax,
        payment=invoice.payment,
        audit=invoice.audit_reference,
    )


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("worked-example-invoice.xml", worked_example_invoice),
        ("worked-example-credit-note.xml", worked_example_credit_note),
    ],
)
def test_golden_documents_are_valid_and_byte_for_byte_the_same(name, make):
    content = render(make())
    assert content == render(make())  # no clock, no randomness
    assert content == (GOLDEN / name).read_bytes(), f"{name} changed; see docs/finance.md"
    assert fatal_findings(content) == []


def test_the_worked_example_invoice_carries_the_statement():
    document = worked_example_invoice()
    xml = render(document).decode("utf-8")
    # 101,798.12 kr.: four lines (106,037.50 + 765.00 + 297.50 = 107,100.00) less the malus.
    assert '<cbc:LineExtensionAmount currencyID="DKK">107100.00<' in xml
    assert '<cbc:AllowanceTotalAmount currencyID="DKK">5301.88<' in xml
    assert '<cbc:PayableAmount currencyID="DKK">101798.12<' in xml
    assert document.payable_ore == 10_179_812
    assert '<cbc:EndpointID schemeID="0088">5798000000001<' in xml
    assert '<cbc:CompanyID schemeID="0184">12345674<' in xml
    assert f"<cbc:BuyerReference>{BUYER_REFERENCE}<" in xml
    assert "<cbc:ID>DK5000400440116243</cbc:ID>" in xml and "DABADKKK" in xml
    assert "audit-chain:1234:" in xml
    assert "<cbc:StartDate>2026-10-01<" in xml and "<cbc:EndDate>2026-10-31<" in xml
    # The rebated unit price keeps its exact value; the malus names its base and rate.
    assert '<cbc:PriceAmount currencyID="DKK">80.75<' in xml
    assert "<cbc:MultiplierFactorNumeric>5.00<" in xml
    assert '<cbc:BaseAmount currencyID="DKK">106037.50<' in xml
    assert xml.count("<cac:InvoiceLine>") == 4
    # A share line states its rate: 75 % of the unit price for an absent citizen.
    assert re.search(r"<cbc:Name>Sats \(%\)</cbc:Name>\s*<cbc:Value>75.00</cbc:Value>", xml)


def test_the_credit_note_refers_to_the_invoice():
    xml = render(worked_example_credit_note()).decode("utf-8")
    assert xml.count("<CreditNote ") == 1 and "<cbc:CreditNoteTypeCode>381<" in xml
    assert re.search(r"<cac:InvoiceDocumentReference>\s*<cbc:ID>VM-0751-202610-1<", xml)
    assert '<cbc:PayableAmount currencyID="DKK">42.50<' in xml


def test_standard_rated_terms_add_vat_and_stay_valid():
    document = worked_example_invoice(tax=einvoice.tax_of("S", 2500, ""))
    assert document.tax_ore == 2_544_953  # 25 % of 101,798.12, half up
    assert document.payable_ore == 10_179_812 + 2_544_953
    assert fatal_findings(render(document)) == []


def test_a_stripe_payee_is_clearing_between_partners_and_valid():
    document = worked_example_invoice(payment=Payment("VM-0751-202610-1"))
    xml = render(document)
    assert b"<cbc:PaymentMeansCode>97<" in xml and b"PayeeFinancialAccount" not in xml
    assert fatal_findings(xml) == []


def test_a_bonus_is_a_charge_and_a_guarantee_a_line():
    lines = [
        einvoice.SourceLine("delivered", 900, Decimal(8500), None, 7_650_000, "900 leveret", {}),
        einvoice.SourceLine(
            "volume_guarantee", 100, Decimal(4250), 5000, 425_000, "Volumengaranti", {}
        ),
        einvoice.SourceLine(
            "sla_bonus", 1, None, 200, 153_000, "Bonus", {"delivery_amount_ore": 7_650_000}
        ),
        einvoice.SourceLine("adjustment", 1, None, None, -1000, "Fradrag", {}),
        einvoice.SourceLine("adjustment", 1, None, None, 2000, "Tillæg", {}),
    ]
    document = einvoice.statement_invoice(
        number="VM-1",
        statement_id=2,
        month_on=date(2026, 9, 1),
        period_end=date(2026, 9, 30),
        approved_on=date(2026, 10, 2),
        seller=SELLER,
        buyer=BUYER,
        tax=einvoice.tax_of("E", 0, ""),
        payment=ACCOUNT,
        lines=lines,
        audit="",
    )
    assert document is not None
    xml = render(document)
    assert b"<cbc:ChargeIndicator>true<" in xml
    # The lowering adjustment is a credit note of its own, not part of this invoice.
    assert document.payable_ore == 7_650_000 + 425_000 + 153_000 + 2000
    assert xml.count(b"<cac:InvoiceLine>") == 3
    assert fatal_findings(xml) == []


def test_only_deductions_make_no_invoice():
    only = [einvoice.SourceLine("adjustment", 1, None, None, -4250, "Fradrag", {})]
    made = einvoice.statement_invoice(
        number="VM-2",
        statement_id=3,
        month_on=date(2026, 9, 1),
        period_end=date(2026, 9, 30),
        approved_on=date(2026, 10, 2),
        seller=SELLER,
        buyer=BUYER,
        tax=einvoice.tax_of("E", 0, ""),
        payment=ACCOUNT,
        lines=only,
        audit="",
    )
    assert made is None


def test_a_broken_document_fails_the_official_rules():
    xml = render(worked_example_invoice())
    broken = re.sub(rb"\s*<cbc:BuyerReference>[^<]*</cbc:BuyerReference>", b"", xml)
    assert broken != xml
    fatal = fatal_findings(broken)
    assert any("PEPPOL-EN16931-R003" in finding for finding in fatal), fatal
    wrong_total = xml.replace(b">101798.12</cbc:PayableAmount>", b">101798.13</cbc:PayableAmount>")
    assert wrong_total != xml and fatal_findings(wrong_total)
