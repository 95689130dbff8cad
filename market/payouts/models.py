"""Payouts of approved settlement statements to providers, by Stripe Connect
transfer or in an ISO 20022 credit transfer file (pain.001) for the bank."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Text
from sqlmodel import Field, SQLModel

from market.db import UTCDateTime, enum_type, utcnow
from providers.models import PayoutMethod


class PayoutStatus(StrEnum):
    PENDING = "pending"  # recorded; not paid yet (a transfer may be in flight under its lease)
    SUBMITTED = "submitted"  # in a payment file handed to the bank
    PAID = "paid"  # confirmed (the transfer exists / the bank file was marked paid)
    FAILED = "failed"  # refused; a person must look at it


# A Stripe transfer goes from pending straight to paid (the gateway's answer is
# the confirmation); a bank payout goes through a payment file (submitted).
PAYOUT_TRANSITIONS: dict[PayoutStatus, frozenset[PayoutStatus]] = {
    PayoutStatus.PENDING: frozenset(
        {PayoutStatus.SUBMITTED, PayoutStatus.PAID, PayoutStatus.FAILED}
    ),
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
    amount_ore: int = Field(sa_type=BigInteger)
    status: PayoutStatus = Field(
        default=PayoutStatus.PENDING, sa_type=enum_type(PayoutStatus), index=True
    )
    idempotency_key: str = Field(max_length=200, unique=True)
    gateway_reference: str | None = Field(default=None, max_length=100)
    payment_file_id: int | None = Field(default=None, foreign_key="settlement_payment_file.id")
    # Where the money went, copied when the payout is made.
    destination: str = Field(default="", max_length=100)
    destination_bic: str | None = Field(default=None, max_length=11)
    attempts: int = 0
    # A claimed transfer is not tried again before this (the claim's lease, or
    # the back-off after a failed attempt).
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
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
    total_ore: int = Field(sa_type=BigInteger)
    sha256: str = Field(max_length=64)
    content: str = Field(sa_type=Text)
    created_by_user_id: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Set when a person confirms the bank has paid the file's payouts.
    paid_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    paid_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
