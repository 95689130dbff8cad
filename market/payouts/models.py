"""Payouts of approved settlement statements to providers, by Stripe Connect
transfer or in an ISO 20022 credit transfer file (pain.001) for the bank."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Text
from sqlmodel import Field, SQLModel

from market.db import UTCDateTime, enum_type, utcnow
from providers.models import PayoutMethod


class PayoutStatus(StrEnum):
    PENDING = "pending"  # recorded; nothing sent yet
    SUBMITTED = "submitted"  # the transfer was asked for, or the payout is in a payment file
    PAID = "paid"  # confirmed (the transfer exists / the bank file was marked paid)
    FAILED = "failed"  # refused; a person must look at it


PAYOUT_TRANSITIONS: dict[PayoutStatus, frozenset[PayoutStatus]] = {
    PayoutStatus.PENDING: frozenset({PayoutStatus.SUBMITTED, PayoutStatus.FAILED}),
    PayoutStatus.SUBMITTED: frozenset({PayoutStatus.PAID, PayoutStatus.FAILED}),
    PayoutStatus.FAILED: frozenset({PayoutStatus.PENDING}),
    PayoutStatus.PAID: frozenset(),
}


class Payout(SQLModel, table=True):
    """The payment of one approved statement to its provider. One per
    statement, with an idempotency key derived from it (``payout:<id>``), so a
    retried or interrupted payout pays once."""

    __tablename__ = "settlement_payout"
    __table_args__ = (CheckConstraint("amount_ore > 0", name="ck_settlement_payout_positive"),)

    id: int | None = Field(default=None, primary_key=True)
    statement_id: int = Field(foreign_key="settlement_statement.id", unique=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    method: PayoutMethod = Field(sa_type=enum_type(PayoutMethod))
    amount_ore: int
    status: PayoutStatus = Field(
        default=PayoutStatus.PENDING, sa_type=enum_type(PayoutStatus), index=True
    )
    idempotency_key: str = Field(max_length=200, unique=True)
    gateway_reference: str | None = Field(default=None, max_length=100)
    payment_file_id: int | None = Field(default=None, foreign_key="settlement_payment_file.id")
    # Where the money went, copied when the payout is made.
    destination: str = Field(default="", max_length=100)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)
    created_by_user_id: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    paid_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PaymentFile(SQLModel, table=True):
    """An ISO 20022 credit transfer file (pain.001) for the municipality's
    bank. Its content is stored as written, with its SHA-256."""

    __tablename__ = "settlement_payment_file"

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    message_id: str = Field(max_length=35, unique=True)
    payouts: int
    total_ore: int
    sha256: str = Field(max_length=64)
    content: str = Field(sa_type=Text)
    created_by_user_id: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
