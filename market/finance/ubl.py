"""Peppol BIS Billing 3.0 (UBL 2.1) invoices and credit notes, written from
plain values: no database, no clock, no randomness, so the same document
always gives the same bytes. docs/finance.md maps each settlement value to
its business term (BT-nn).

Amounts are integer øre here and written as kroner with two decimals; unit
prices keep every decimal they have (a rebated unit price can have
fractions of an øre), which BIS 3 allows for the item net price."""

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
CURRENCY = "DKK"
# Peppol electronic address schemes (EAS) and identifier schemes (ICD).
SCHEME_GLN = "0088"
SCHEME_CVR = "0184"
UNIT_CODE = "C62"  # UN/ECE rec. 20 "one": a meal, a failed delivery, a point

NS = {
    "invoice": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "creditnote": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
ET.register_namespace("cac", NS["cac"])
ET.register_namespace("cbc", NS["cbc"])


class DocumentKind(StrEnum):
    INVOICE = "invoice"  # UNCL1001 380
    CREDIT_NOTE = "credit_note"  # UNCL1001 381


class VatCategory(StrEnum):
    """The UNCL5305 categories a Danish welfare contract can use."""

    STANDARD = "S"
    ZERO = "Z"
    EXEMPT = "E"


@dataclass(frozen=True)
class Seller:
    name: str
    cvr: str  # 8 digits
    street: str
    postal_code: str
    city: str


@dataclass(frozen=True)
class Buyer:
    name: str
    gln: str  # 13 digits, GS1 check digit
    reference: str  # BT-10, routes the invoice inside the municipality


@dataclass(frozen=True)
class Tax:
    category: VatCategory
    rate_bp: int
    exemption_reason: str = ""

    @property
    def percent(self) -> Decimal:
        return Decimal(self.rate_bp) / 100


@dataclass(frozen=True)
class Line:
    number: str
    quantity: int
    unit_price_ore: Decimal  # exact; may carry fractions of an øre
    amount_ore: int
    name: str
    description: str
    rate_bp: int | None = None  # a share or rebate rate, shown as an item attribute


@dataclass(frozen=True)
class AllowanceCharge:
    """A document-level deduction (the SLA malus) or charge (the SLA bonus):
    a percentage of the delivery amount, not a quantity of something."""

    charge: bool
    amount_ore: int  # positive
    reason: str
    base_ore: int | None = None
    rate_bp: int | None = None


@dataclass(frozen=True)
class Payment:
    """Where the money goes: a bank account (UNCL4461 31, IBAN and BIC, which
    the Danish rules require together) or the platform's Stripe Connect
    transfer (97, clearing between partners)."""

    payment_id: str
    iban: str | None = None
    bic: str | None = None

    @property
    def code(self) -> str:
        return "31" if self.iban and self.bic else "97"


@dataclass(frozen=True)
class Document:
    kind: DocumentKind
    number: str
    issue_on: date
    due_on: date
    period_start: date
    period_end: date
    seller: Seller
    buyer: Buyer
    tax: Tax
    payment: Payment
    lines: tuple[Line, ...]
    allowances_charges: tuple[AllowanceCharge, ...] = ()
    note: str = ""
    # The statement and the head of the audit chain recorded at its approval.
    statement_reference: str = ""
    audit_reference: str = ""
    # A credit note: the invoice it corrects.
    billing_reference: str | None = None
    billing_reference_on: date | None = None

    @property
    def line_extension_ore(self) -> int:
        return sum(line.amount_ore for line in self.lines)

    @property
    def allowance_total_ore(self) -> int:
        return sum(ac.amount_ore for ac in self.allowances_charges if not ac.charge)

    @property
    def charge_total_ore(self) -> int:
        return sum(ac.amount_ore for ac in self.allowances_charges if ac.charge)

    @property
    def tax_exclusive_ore(self) -> int:
        return self.line_extension_ore - self.allowance_total_ore + self.charge_total_ore

    @property
    def tax_ore(self) -> int:
        # VAT is rounded once on the category's taxable amount, half up (BR-CO-17).
        exact = Decimal(self.tax_exclusive_ore) * self.tax.rate_bp / 10_000
        return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))

    @property
    def payable_ore(self) -> int:
        return self.tax_exclusive_ore + self.tax_ore


def kroner_text(ore: int) -> str:
    """Øre as kroner with exactly two decimals: 10179812 → "101798.12"."""
    sign = "-" if ore < 0 else ""
    whole, cents = divmod(abs(ore), 100)
    return f"{sign}{whole}.{cents:02d}"


def price_text(ore: Decimal) -> str:
    """A unit price in kroner, exact, with at least two decimals."""
    value = (ore / 100).normalize()
    exponent = value.as_tuple().exponent  # an int: the value is finite
    if isinstance(exponent, int) and exponent > -2:
        value = value.quantize(Decimal("0.01"))
    return format(value, "f")


def _percent_text(rate_bp: int) -> str:
    return price_text(Decimal(rate_bp))


class _Writer:
    def __init__(self, root: ET.Element) -> None:
        self.root = root

    @staticmethod
    def cbc(parent: ET.Element, name: str, text: str, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{NS['cbc']}}}{name}", attrs)
        element.text = text
        return element

    @staticmethod
    def cac(parent: ET.Element, name: str) -> ET.Element:
        return ET.SubElement(parent, f"{{{NS['cac']}}}{name}")

    def amount(self, parent: ET.Element, name: str, ore: int) -> ET.Element:
        return self.cbc(parent, name, kroner_text(ore), currencyID=CURRENCY)

    def tax_category(self, parent: ET.Element, name: str, tax: Tax, reason: bool = False) -> None:
        category = self.cac(parent, name)
        self.cbc(category, "ID", tax.category.value)
        self.cbc(category, "Percent", _percent_text(tax.rate_bp))
        if reason and tax.category == VatCategory.EXEMPT:
            self.cbc(category, "TaxExemptionReason", tax.exemption_reason)
        scheme = self.cac(category, "TaxScheme")
        self.cbc(scheme, "ID", "VAT")


def _seller(w: _Writer, parent: ET.Element, seller: Seller) -> None:
    party = w.cac(w.cac(parent, "AccountingSupplierParty"), "Party")
    w.cbc(party, "EndpointID", seller.cvr, schemeID=SCHEME_CVR)
    w.cbc(w.cac(party, "PartyName"), "Name", seller.name)
    address = w.cac(party, "PostalAddress")
    w.cbc(address, "StreetName", seller.street)
    w.cbc(address, "CityName", seller.city)
    w.cbc(address, "PostalZone", seller.postal_code)
    w.cbc(w.cac(address, "Country"), "IdentificationCode", "DK")
    tax_scheme = w.cac(party, "PartyTaxScheme")
    w.cbc(tax_scheme, "CompanyID", f"DK{seller.cvr}")
    w.cbc(w.cac(tax_scheme, "TaxScheme"), "ID", "VAT")
    legal = w.cac(party, "PartyLegalEntity")
    w.cbc(legal, "RegistrationName", seller.name)
    w.cbc(legal, "CompanyID", seller.cvr, schemeID=SCHEME_CVR)


def _buyer(w: _Writer, parent: ET.Element, buyer: Buyer) -> None:
    party = w.cac(w.cac(parent, "AccountingCustomerParty"), "Party")
    w.cbc(party, "EndpointID", buyer.gln, schemeID=SCHEME_GLN)
    w.cbc(w.cac(party, "PartyIdentification"), "ID", buyer.gln, schemeID=SCHEME_GLN)
    w.cbc(w.cac(party, "PartyName"), "Name", buyer.name)
    address = w.cac(party, "PostalAddress")
    w.cbc(w.cac(address, "Country"), "IdentificationCode", "DK")
    w.cbc(w.cac(party, "PartyLegalEntity"), "RegistrationName", buyer.name)


def render(doc: Document) -> bytes:
    """The document as UTF-8 XML bytes."""
    invoice = doc.kind == DocumentKind.INVOICE
    root_ns = NS["invoice"] if invoice else NS["creditnote"]
    # The root's namespace is the default one, declared by hand: ElementTree
    # cannot mix a default namespace with unqualified attributes (currencyID).
    root = ET.Element("Invoice" if invoice else "CreditNote", {"xmlns": root_ns})
    w = _Writer(root)
    _header(w, root, doc, invoice)
    _references(w, root, doc)
    _seller(w, root, doc.seller)
    _buyer(w, root, doc.buyer)
    if invoice:
        # A credit note is netted in a later statement, so it names no account.
        _payment_means(w, root, doc)
    _allowances_charges(w, root, doc)
    _totals(w, root, doc)
    _lines(w, root, doc, invoice)
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"


def _header(w: _Writer, root: ET.Element, doc: Document, invoice: bool) -> None:
    w.cbc(root, "CustomizationID", CUSTOMIZATION_ID)
    w.cbc(root, "ProfileID", PROFILE_ID)
    w.cbc(root, "ID", doc.number)
    w.cbc(root, "IssueDate", doc.issue_on.isoformat())
    if invoice:
        w.cbc(root, "DueDate", doc.due_on.isoformat())
        w.cbc(root, "InvoiceTypeCode", "380")
    else:
        w.cbc(root, "CreditNoteTypeCode", "381")
    if doc.note:
        w.cbc(root, "Note", doc.note)
    w.cbc(root, "DocumentCurrencyCode", CURRENCY)
    w.cbc(root, "BuyerReference", doc.buyer.reference)
    period = w.cac(root, "InvoicePeriod")
    w.cbc(period, "StartDate", doc.period_start.isoformat())
    w.cbc(period, "EndDate", doc.period_end.isoformat())


def _references(w: _Writer, root: ET.Element, doc: Document) -> None:
    if doc.billing_reference:
        reference = w.cac(w.cac(root, "BillingReference"), "InvoiceDocumentReference")
        w.cbc(reference, "ID", doc.billing_reference)
        if doc.billing_reference_on:
            w.cbc(reference, "IssueDate", doc.billing_reference_on.isoformat())
    if doc.statement_reference:
        additional = w.cac(root, "AdditionalDocumentReference")
        w.cbc(additional, "ID", doc.statement_reference)
        w.cbc(additional, "DocumentDescription", "Afregningsopgørelse (settlement statement)")
    if doc.audit_reference:
        additional = w.cac(root, "AdditionalDocumentReference")
        w.cbc(additional, "ID", doc.audit_reference)
        w.cbc(
            additional,
            "DocumentDescription",
            "Revisionskædens hoved ved godkendelsen (audit chain head at approval)",
        )


def _payment_means(w: _Writer, root: ET.Element, doc: Document) -> None:
    means = w.cac(root, "PaymentMeans")
    w.cbc(means, "PaymentMeansCode", doc.payment.code)
    w.cbc(means, "PaymentID", doc.payment.payment_id)
    if doc.payment.iban and doc.payment.bic:
        account = w.cac(means, "PayeeFinancialAccount")
        w.cbc(account, "ID", doc.payment.iban)
        w.cbc(account, "Name", doc.seller.name)
        w.cbc(w.cac(account, "FinancialInstitutionBranch"), "ID", doc.payment.bic)
    w.cbc(w.cac(root, "PaymentTerms"), "Note", f"Netto {(doc.due_on - doc.issue_on).days} dage")


def _allowances_charges(w: _Writer, root: ET.Element, doc: Document) -> None:
    for ac in doc.allowances_charges:
        element = w.cac(root, "AllowanceCharge")
        w.cbc(element, "ChargeIndicator", "true" if ac.charge else "false")
        w.cbc(element, "AllowanceChargeReason", ac.reason)
        if ac.rate_bp is not None and ac.base_ore is not None:
            w.cbc(element, "MultiplierFactorNumeric", _percent_text(ac.rate_bp))
        w.amount(element, "Amount", ac.amount_ore)
        if ac.rate_bp is not None and ac.base_ore is not None:
            w.amount(element, "BaseAmount", ac.base_ore)
        w.tax_category(element, "TaxCategory", doc.tax)


def _totals(w: _Writer, root: ET.Element, doc: Document) -> None:
    tax_total = w.cac(root, "TaxTotal")
    w.amount(tax_total, "TaxAmount", doc.tax_ore)
    subtotal = w.cac(tax_total, "TaxSubtotal")
    w.amount(subtotal, "TaxableAmount", doc.tax_exclusive_ore)
    w.amount(subtotal, "TaxAmount", doc.tax_ore)
    w.tax_category(subtotal, "TaxCategory", doc.tax, reason=True)
    totals = w.cac(root, "LegalMonetaryTotal")
    w.amount(totals, "LineExtensionAmount", doc.line_extension_ore)
    w.amount(totals, "TaxExclusiveAmount", doc.tax_exclusive_ore)
    w.amount(totals, "TaxInclusiveAmount", doc.payable_ore)
    if doc.allowance_total_ore:
        w.amount(totals, "AllowanceTotalAmount", doc.allowance_total_ore)
    if doc.charge_total_ore:
        w.amount(totals, "ChargeTotalAmount", doc.charge_total_ore)
    w.amount(totals, "PayableAmount", doc.payable_ore)


def _lines(w: _Writer, root: ET.Element, doc: Document, invoice: bool) -> None:
    for line in doc.lines:
        element = w.cac(root, "InvoiceLine" if invoice else "CreditNoteLine")
        w.cbc(element, "ID", line.number)
        w.cbc(
            element,
            "InvoicedQuantity" if invoice else "CreditedQuantity",
            str(line.quantity),
            unitCode=UNIT_CODE,
        )
        w.amount(element, "LineExtensionAmount", line.amount_ore)
        item = w.cac(element, "Item")
        w.cbc(item, "Description", line.description)
        w.cbc(item, "Name", line.name)
        w.tax_category(item, "ClassifiedTaxCategory", doc.tax)
        if line.rate_bp is not None:
            attribute = w.cac(item, "AdditionalItemProperty")
            w.cbc(attribute, "Name", "Sats (%)")
            w.cbc(attribute, "Value", _percent_text(line.rate_bp))
        price = w.cac(element, "Price")
        w.cbc(price, "PriceAmount", price_text(line.unit_price_ore), currencyID=CURRENCY)
