"""From a settlement statement to its Peppol documents (pure: no database).

- An approved statement is an invoice: one invoice line per statement line
  with its quantity, unit amount and explanation; the SLA malus is a
  document-level allowance and the SLA bonus a document-level charge (both
  are a percentage of the delivery amount, not a quantity); the volume
  guarantee and a raising adjustment are lines.
- An adjustment that lowers an approved statement is a credit note of its
  own, referring to that statement's invoice. The statement that carries
  the adjustment leaves it out of its invoice, so the invoice never goes
  below zero and nothing is deducted twice: invoice − credit notes = the
  statement's total = what the payout pays (when the VAT rate is 0)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from market.errors import N_
from market.finance.ubl import (
    AllowanceCharge,
    Buyer,
    Document,
    DocumentKind,
    Line,
    Payment,
    Seller,
    Tax,
    VatCategory,
)
from market.i18n import translations

# Danish public buyers pay supplier invoices within 30 days.
PAYMENT_DAYS = 30
LANGUAGE = "da"  # NemHandel documents for a Danish municipality
DEFAULT_EXEMPTION_REASON = N_(
    "Exempt from VAT as social welfare (Danish VAT Act section 13(1)(2), "
    "VAT Directive article 132(1)(g))"
)

ITEM_NAMES = {
    "delivered": N_("Delivered meals"),
    "delivered_above_rebate_threshold": N_("Delivered meals above the rebate threshold"),
    "citizen_absent": N_("Failed deliveries, citizen absent"),
    "late_cancelled": N_("Late cancellations"),
    "volume_guarantee": N_("Volume guarantee"),
    "adjustment": N_("Adjustment of an earlier month"),
}


def _da(message: str) -> str:
    return translations(LANGUAGE).gettext(message)


@dataclass(frozen=True)
class SourceLine:
    """A statement line as the settlement stores it, explanation rendered."""

    kind: str
    quantity: int
    unit_amount_ore: Decimal | None
    rate_bp: int | None
    amount_ore: int
    text: str
    params: dict[str, Any]


def invoice_number(municipality_code: str, month_on: date, statement_id: int) -> str:
    return f"VM-{municipality_code}-{month_on:%Y%m}-{statement_id}"


def credit_note_number(municipality_code: str, adjustment_id: int) -> str:
    return f"VM-{municipality_code}-K{adjustment_id}"


def tax_of(category: str, rate_bp: int, reason: str) -> Tax:
    chosen = VatCategory(category)
    if chosen == VatCategory.EXEMPT:
        return Tax(chosen, 0, reason.strip() or _da(DEFAULT_EXEMPTION_REASON))
    return Tax(chosen, 0 if chosen == VatCategory.ZERO else rate_bp)


def audit_reference(seq: int | None, digest: str | None) -> str:
    return "" if seq is None or not digest else f"audit-chain:{seq}:{digest}"


def is_credited(line: SourceLine) -> bool:
    """A lowering adjustment: it has its own credit note."""
    return line.kind == "adjustment" and line.amount_ore < 0


def statement_invoice(
    *,
    number: str,
    statement_id: int,
    month_on: date,
    period_end: date,
    approved_on: date,
    seller: Seller,
    buyer: Buyer,
    tax: Tax,
    payment: Payment,
    lines: Sequence[SourceLine],
    audit: str,
) -> Document | None:
    """The invoice of an approved statement; None when every line is a
    lowering adjustment (those are credit notes)."""
    invoice_lines: list[Line] = []
    extras: list[AllowanceCharge] = []
    for line in lines:
        if is_credited(line):
            continue
        if line.kind in ("sla_malus", "sla_bonus"):
            extras.append(
                AllowanceCharge(
                    charge=line.kind == "sla_bonus",
                    amount_ore=abs(line.amount_ore),
                    reason=line.text,
                    base_ore=line.params.get("delivery_amount_ore"),
                    rate_bp=line.rate_bp,
                )
            )
            continue
        unit = line.unit_amount_ore
        if unit is None:  # an adjustment: one of it, at its amount
            unit = Decimal(line.amount_ore) / max(line.quantity, 1)
        invoice_lines.append(
            Line(
                number=str(len(invoice_lines) + 1),
                quantity=line.quantity,
                unit_price_ore=unit,
                amount_ore=line.amount_ore,
                name=_da(ITEM_NAMES.get(line.kind, ITEM_NAMES["adjustment"])),
                description=line.text,
                rate_bp=line.rate_bp,
            )
        )
    if not invoice_lines:
        return None
    return Document(
        kind=DocumentKind.INVOICE,
        number=number,
        issue_on=approved_on,
        due_on=approved_on + timedelta(days=PAYMENT_DAYS),
        period_start=month_on,
        period_end=period_end,
        seller=seller,
        buyer=buyer,
        tax=tax,
        payment=payment,
        lines=tuple(invoice_lines),
        allowances_charges=tuple(extras),
        note=f"Afregningsopgørelse {statement_id} for {month_on:%Y-%m}",
        statement_reference=f"statement:{statement_id}",
        audit_reference=audit,
    )


def adjustment_credit_note(
    *,
    number: str,
    adjustment_id: int,
    amount_ore: int,
    reason: str,
    issue_on: date,
    corrected_invoice: str,
    corrected_issue_on: date,
    corrected_statement_id: int,
    month_on: date,
    period_end: date,
    seller: Seller,
    buyer: Buyer,
    tax: Tax,
    payment: Payment,
    audit: str,
) -> Document:
    """A lowering adjustment (``amount_ore`` < 0) as a credit note for its size."""
    credited = -amount_ore
    return Document(
        kind=DocumentKind.CREDIT_NOTE,
        number=number,
        issue_on=issue_on,
        due_on=issue_on,
        period_start=month_on,
        period_end=period_end,
        seller=seller,
        buyer=buyer,
        tax=tax,
        payment=payment,
        lines=(
            Line(
                number="1",
                quantity=1,
                unit_price_ore=Decimal(credited),
                amount_ore=credited,
                name=_da(ITEM_NAMES["adjustment"]),
                description=reason,
            ),
        ),
        note=(
            f"Regulering {adjustment_id} af afregningsopgørelse {corrected_statement_id} "
            f"({month_on:%Y-%m}); modregnes i en senere afregning"
        ),
        statement_reference=f"statement:{corrected_statement_id}",
        audit_reference=audit,
        billing_reference=corrected_invoice,
        billing_reference_on=corrected_issue_on,
    )
