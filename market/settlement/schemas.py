"""API input and output of the settlement. Money in øre, rates in basis points."""

from datetime import date, datetime

from pydantic import BaseModel, Field


class RunIn(BaseModel):
    month: str = Field(description="The month to settle, e.g. '2026-10'; it must have ended.")


class RunOut(BaseModel):
    run_id: int
    month: str
    statements: int
    total_ore: int


class StatementOut(BaseModel):
    id: int
    provider_id: int
    provider_name: str
    approval_id: int
    month: str
    status: str
    delivered: int
    delivered_on_time: int
    provider_fault_failures: int
    citizen_absent: int
    late_cancelled: int
    unfinished_orders: int = Field(description="Orders not finished at the run; not settled.")
    total_ore: int
    prepared_by_user_id: int
    approved_by_user_id: int | None
    approved_at: datetime | None
    audit_chain_seq: int | None = Field(description="Head of the audit chain at approval.")
    audit_chain_hash: str | None


class LineOut(BaseModel):
    position: int
    kind: str
    quantity: int
    unit_amount_ore: str | None = Field(description="Exact, may have fractions of an øre.")
    rate_bp: int | None
    amount_ore: int
    orders: int = Field(description="How many orders stand behind the line.")
    explanation: str = Field(description="The sentence, in the request's language.")
    message: str = Field(description="The English message id of the sentence.")
    params: dict[str, object]


class StatementDetailOut(StatementOut):
    terms_id: int
    terms_version: int
    terms_valid_from: date
    lines: list[LineOut]


class MonthStatementsOut(BaseModel):
    month: str
    total_ore: int
    statements: list[StatementOut]
