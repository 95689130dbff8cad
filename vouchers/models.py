"""Citizens, their voucher grants, the co-payment caps, one-time letter codes,
proxies, and the voucher ledger (accounts and transfers between them)."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from market.db import UTCDateTime, enum_type, utcnow
from market.dietary import DietForm


class VoucherService(StrEnum):
    """What a voucher unit is a unit of. Meals first; the ledger never assumes meals."""

    MAIN_MEAL = "main_meal"


class GrantStatus(StrEnum):
    ACTIVE = "active"
    SUPERSEDED = "superseded"
    REVOKED = "revoked"
    EXPIRED = "expired"


class AccountKind(StrEnum):
    GRANTED = "granted"
    AVAILABLE = "available"
    RESERVED = "reserved"
    REDEEMED = "redeemed"
    EXPIRED = "expired"


# The iso_week of an account that belongs to no week (the granted account, and
# units expired before they were ever allotted to a week). Not NULL: a unique
# constraint treats NULLs as distinct, and (grant, kind, week) must be unique.
NO_WEEK = ""


class Citizen(SQLModel, table=True):
    """A person assessed by a case worker. The CPR number is stored encrypted,
    with a keyed hash for exact look-up; only the date of birth is kept in clear
    (for the masked display DDMMYY-****)."""

    __table_args__ = (UniqueConstraint("municipality_id", "cpr_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    user_id: int = Field(foreign_key="app_user.id", unique=True)
    full_name: str = Field(max_length=200, index=True)
    cpr_encrypted: str = Field(max_length=512)
    cpr_hash: str = Field(max_length=64, index=True)
    birth_date: date
    address: str = Field(max_length=200)
    postal_code: str = Field(max_length=4)
    phone: str | None = Field(default=None, max_length=32)
    language: str = Field(default="da", max_length=8)
    diet_form: DietForm = Field(default=DietForm.NORMAL, sa_type=enum_type(DietForm))
    diet_notes: str = Field(default="", max_length=500)
    # For the driver: how to get in (key box, ring twice, side door).
    door_notes: str = Field(default="", max_length=500)
    allergies: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    contact_name: str | None = Field(default=None, max_length=200)
    contact_phone: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CopaymentCap(SQLModel, table=True):
    """The highest co-payment per unit a municipality may charge in a year."""

    __tablename__ = "copayment_cap"

    municipality_id: int = Field(foreign_key="municipality.id", primary_key=True)
    year: int = Field(primary_key=True)
    cap_ore: int


class VoucherGrant(SQLModel, table=True):
    __tablename__ = "voucher_grant"
    __table_args__ = (
        CheckConstraint("units_per_week > 0", name="ck_voucher_grant_units_positive"),
        CheckConstraint("copayment_ore >= 0", name="ck_voucher_grant_copayment_nonnegative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    citizen_id: int = Field(foreign_key="citizen.id", index=True)
    service: VoucherService = Field(sa_type=enum_type(VoucherService))
    units_per_week: int
    diet_form: DietForm = Field(sa_type=enum_type(DietForm))
    allergies: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    valid_from: date
    valid_to: date
    reassess_on: date | None = None
    copayment_ore: int
    rollover: bool = False
    status: GrantStatus = Field(default=GrantStatus.ACTIVE, sa_type=enum_type(GrantStatus))
    supersedes_id: int | None = Field(default=None, foreign_key="voucher_grant.id")
    ended_reason: str | None = Field(default=None, max_length=500)
    created_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class VoucherAccount(SQLModel, table=True):
    __tablename__ = "voucher_account"
    __table_args__ = (
        UniqueConstraint("grant_id", "kind", "iso_week"),
        CheckConstraint("balance >= 0", name="ck_voucher_account_balance_nonnegative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    grant_id: int = Field(foreign_key="voucher_grant.id", index=True)
    kind: AccountKind = Field(sa_type=enum_type(AccountKind))
    iso_week: str = Field(default=NO_WEEK, max_length=8, description='e.g. "2026-W48"')
    balance: int = 0


class LedgerTransfer(SQLModel, table=True):
    """One movement of units. from_account_id is NULL only for the issue of a
    grant's units into its granted account."""

    __tablename__ = "ledger_transfer"
    __table_args__ = (
        CheckConstraint("units > 0", name="ck_ledger_transfer_units_positive"),
        Index("ix_ledger_transfer_grant_order", "grant_id", "order_ref"),
    )

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    grant_id: int = Field(foreign_key="voucher_grant.id", index=True)
    from_account_id: int | None = Field(default=None, foreign_key="voucher_account.id")
    to_account_id: int = Field(foreign_key="voucher_account.id")
    units: int
    reason: str = Field(max_length=40)
    order_ref: str | None = Field(default=None, max_length=100)
    delivery_on: date | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor_user_id: int | None = Field(default=None, foreign_key="app_user.id")


class ProxyLink(SQLModel, table=True):
    """A relative or helper with their own login who may act for a citizen."""

    __tablename__ = "proxy_link"

    id: int | None = Field(default=None, primary_key=True)
    citizen_id: int = Field(foreign_key="citizen.id", index=True)
    proxy_user_id: int = Field(foreign_key="app_user.id", index=True)
    relation: str = Field(default="", max_length=100)
    created_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ProxyIdentity(SQLModel, table=True):
    """A proxy's own CPR number as a keyed hash only, so they can sign in with
    their own MitID; nothing else about it is kept."""

    __tablename__ = "proxy_identity"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", unique=True)
    cpr_hash: str = Field(max_length=64, unique=True)
    created_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LetterCode(SQLModel, table=True):
    """A short one-time code printed in a letter: it signs a person in once so
    they can set a password. Stored hashed for look-up and encrypted so the same
    letter can be printed again until the code is used or reissued."""

    __tablename__ = "letter_code"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    citizen_id: int = Field(foreign_key="citizen.id", index=True)
    code_hash: str = Field(max_length=64, unique=True)
    code_encrypted: str = Field(max_length=512)
    created_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    replaced_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WeekClosing(SQLModel, table=True):
    """The last day up to which a grant's weeks are closed, so the weekly job
    looks only at weeks that can still be open instead of every week ever granted."""

    __tablename__ = "voucher_week_closing"

    grant_id: int = Field(foreign_key="voucher_grant.id", primary_key=True)
    closed_through: date
