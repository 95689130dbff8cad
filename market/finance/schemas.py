"""API output of the finance endpoints. Money in integer øre (net of VAT),
rates in basis points, months as "YYYY-MM", dates ISO 8601."""

from datetime import date, datetime

from pydantic import BaseModel, Field


class PageInfo(BaseModel):
    page: int
    size: int
    total: int = Field(description="Items matching the filter, over all pages.")


class FinanceLineOut(BaseModel):
    position: int
    kind: str
    quantity: int
    unit_amount_ore: str | None = Field(description="Exact, may have fractions of an øre.")
    rate_bp: int | None
    amount_ore: int
    explanation: str = Field(description="The sentence, in the request's language.")
    order_ids: list[int] = Field(description="The orders behind the line.")


class FinanceStatementOut(BaseModel):
    id: int
    provider_id: int
    provider_name: str
    approval_id: int
    month: str
    status: str
    total_ore: int
    approved_at: datetime | None
    audit_chain_seq: int | None
    audit_chain_hash: str | None
    invoice_url: str | None = Field(description="The e-invoice (approved statements only).")
    lines: list[FinanceLineOut]


class StatementPage(PageInfo):
    items: list[FinanceStatementOut]


class EInvoiceOut(BaseModel):
    kind: str = Field(description="'invoice' or 'credit_note'.")
    number: str
    statement_id: int = Field(description="The invoiced, or for a credit note the corrected, one.")
    adjustment_id: int | None
    provider_id: int
    provider_name: str
    month: str
    issue_date: date
    amount_ore: int = Field(description="Net of VAT; positive for both kinds.")
    url: str = Field(description="The Peppol BIS Billing 3.0 UBL document.")


class EInvoicePage(PageInfo):
    items: list[EInvoiceOut]


class PaymentFileOut(BaseModel):
    id: int
    message_id: str
    payouts: int
    total_ore: int
    sha256: str
    created_at: datetime
    paid_at: datetime | None
    url: str = Field(description="The pain.001 XML as sent to the bank.")


class PaymentFilePage(PageInfo):
    items: list[PaymentFileOut]


class CopaymentStatementOut(BaseModel):
    id: int
    citizen_id: int
    month: str
    sequence: int
    total_ore: int
    lines: int
    issued_at: datetime


class CopaymentStatementPage(PageInfo):
    items: list[CopaymentStatementOut]
