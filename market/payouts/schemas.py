from datetime import date, datetime

from pydantic import BaseModel, Field


class PayoutsIn(BaseModel):
    """Either the statements to pay, or a month (its first day) whose approved
    statements with a positive total are all paid."""

    statement_ids: list[int] = Field(default_factory=list)
    month_on: date | None = None


class PayoutOut(BaseModel):
    id: int
    statement_id: int
    provider_id: int
    provider_name: str
    month_on: date
    method: str
    amount_ore: int
    status: str
    idempotency_key: str
    destination_masked: str
    gateway_reference: str | None
    payment_file_id: int | None
    attempts: int
    last_error: str | None
    created_at: datetime
    paid_at: datetime | None
