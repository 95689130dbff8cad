"""Providers, quality standards, applications with evidence, reviews, approvals
and their versioned contract terms. No relationships: pages load what they
need through explicit queries in repository.py."""

from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from market.db import ExactDecimal, UTCDateTime, enum_type, utcnow
from providers.approvals import terms as value
from providers.approvals.terms import BP_FIELDS


class PayoutMethod(StrEnum):
    BANK_FILE = "bank_file"  # an ISO 20022 pain.001 credit transfer file for the bank
    STRIPE_TRANSFER = "stripe_transfer"  # a Stripe Connect transfer


class Provider(SQLModel, table=True):
    """A business that delivers a voucher service. Approved per municipality."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    cvr: str = Field(max_length=8, unique=True, description="Danish business number, modulus 11")
    address: str = Field(max_length=200)
    postal_code: str = Field(max_length=4)
    city: str = Field(max_length=80)
    contact_name: str = Field(max_length=200)
    contact_email: str = Field(max_length=254)
    contact_phone: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Where settlements are paid: a bank account (pain.001 file) or a Stripe
    # Connect account (transfer). ``payout_method`` chooses between them.
    payout_method: PayoutMethod = Field(
        default=PayoutMethod.BANK_FILE, sa_type=enum_type(PayoutMethod)
    )
    payout_iban: str | None = Field(default=None, max_length=34)
    payout_bic: str | None = Field(default=None, max_length=11)
    stripe_account_id: str | None = Field(default=None, max_length=64)


class StandardStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"


class RequirementKind(StrEnum):
    ATTESTATION = "attestation"
    DOCUMENT = "document"
    NUMERIC_THRESHOLD = "numeric_threshold"


class ApplicationStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class ApprovalStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    # A later approval of the same provider, municipality and service took over.
    REPLACED = "replaced"


class QualityStandard(SQLModel, table=True):
    """One version of a municipality's requirements for one service."""

    __tablename__ = "quality_standard"
    __table_args__ = (
        UniqueConstraint(
            "municipality_id", "service", "version", name="uq_quality_standard_version"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    service: str = Field(max_length=50, description="e.g. madservice")
    version: int
    title: str = Field(max_length=200)
    status: StandardStatus = Field(default=StandardStatus.DRAFT, sa_type=enum_type(StandardStatus))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Given when this version superseded an older one: approved providers re-apply by then.
    reapply_by: date | None = None


class Requirement(SQLModel, table=True):
    __tablename__ = "standard_requirement"
    __table_args__ = (UniqueConstraint("standard_id", "key", name="uq_standard_requirement_key"),)

    id: int | None = Field(default=None, primary_key=True)
    standard_id: int = Field(foreign_key="quality_standard.id", index=True)
    position: int = 0
    key: str = Field(max_length=50)
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_type=Text)
    kind: RequirementKind = Field(sa_type=enum_type(RequirementKind))
    mandatory: bool = True
    unit: str | None = Field(default=None, max_length=20)
    min_value: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    max_value: Decimal | None = Field(default=None, sa_type=ExactDecimal)


class Application(SQLModel, table=True):
    """A provider's application for approval against one standard version."""

    __tablename__ = "provider_application"

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    standard_id: int = Field(foreign_key="quality_standard.id")
    status: ApplicationStatus = Field(
        default=ApplicationStatus.DRAFT, sa_type=enum_type(ApplicationStatus)
    )
    created_by_user_id: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    rejection_reason: str | None = Field(default=None, sa_type=Text)


class Evidence(SQLModel, table=True):
    """The provider's answer to one requirement (documents are EvidenceUpload rows)."""

    __tablename__ = "application_evidence"
    __table_args__ = (
        UniqueConstraint("application_id", "requirement_id", name="uq_application_evidence"),
    )

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="provider_application.id", index=True)
    requirement_id: int = Field(foreign_key="standard_requirement.id")
    attested: bool = False
    statement: str = Field(default="", sa_type=Text)
    numeric_value: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class EvidenceUpload(SQLModel, table=True):
    """Metadata of an uploaded document; the bytes live under settings.upload_dir."""

    __tablename__ = "evidence_upload"

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    application_id: int = Field(foreign_key="provider_application.id", index=True)
    requirement_id: int = Field(foreign_key="standard_requirement.id")
    original_filename: str = Field(max_length=255)
    content_type: str = Field(max_length=100, description="sniffed from the content")
    size_bytes: int
    sha256: str = Field(max_length=64)
    storage_name: str = Field(max_length=64, unique=True)
    uploaded_by_user_id: int = Field(foreign_key="app_user.id")
    uploaded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RequirementReview(SQLModel, table=True):
    """The reviewer's decision on one requirement of one application."""

    __tablename__ = "requirement_review"
    __table_args__ = (
        UniqueConstraint("application_id", "requirement_id", name="uq_requirement_review"),
    )

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="provider_application.id", index=True)
    requirement_id: int = Field(foreign_key="standard_requirement.id")
    met: bool
    comment: str = Field(default="", sa_type=Text)
    decided_by_user_id: int = Field(foreign_key="app_user.id")
    decided_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


_STANDING = text("status IN ('active', 'suspended')")


class Approval(SQLModel, table=True):
    """A provider's approval in one municipality for one service."""

    __tablename__ = "approval"
    # One standing approval per provider, municipality and service, even when two
    # reviewers approve at the same moment; revoked and replaced ones are history.
    __table_args__ = (
        Index(
            "uq_approval_standing",
            "provider_id",
            "municipality_id",
            "service",
            unique=True,
            sqlite_where=_STANDING,
            postgresql_where=_STANDING,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    service: str = Field(max_length=50)
    application_id: int = Field(foreign_key="provider_application.id", unique=True)
    standard_id: int = Field(foreign_key="quality_standard.id")
    status: ApprovalStatus = Field(default=ApprovalStatus.ACTIVE, sa_type=enum_type(ApprovalStatus))
    valid_from: date
    valid_to: date
    daily_capacity: int
    reapply_by: date | None = None
    status_reason: str | None = Field(default=None, sa_type=Text)
    approved_by_user_id: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    status_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApprovalPostalCode(SQLModel, table=True):
    """The service area, one row per postal code, so the catalogue can ask
    "who delivers to 8200" with an index instead of parsing a list."""

    __tablename__ = "approval_postal_code"

    approval_id: int = Field(foreign_key="approval.id", primary_key=True)
    postal_code: str = Field(max_length=4, primary_key=True, index=True)


class ContractTermsVersion(SQLModel, table=True):
    """One version of an approval's contract terms (the ``ContractTerms`` value
    object of ``providers.approvals.terms``, stored with its start, VAT and
    note). A version is in force from its ``valid_from`` until the next
    version's; later versions start on the first of a month, so one version
    governs each settlement month. The CHECK constraints are the value
    object's invariants."""

    __tablename__ = "contract_terms"
    __table_args__ = (
        UniqueConstraint("approval_id", "version", name="uq_contract_terms_version"),
        CheckConstraint("unit_price_ore > 0", name="ck_contract_terms_unit_price_positive"),
        CheckConstraint(
            "min_units_per_month >= 0 AND (rebate_threshold_units IS NULL "
            "OR rebate_threshold_units >= 0)",
            name="ck_contract_terms_units_nonnegative",
        ),
        *(
            CheckConstraint(f"{name} BETWEEN 0 AND 10000", name=f"ck_contract_terms_{name}")
            for name in BP_FIELDS
        ),
        CheckConstraint(
            "bonus_threshold_bp IS NULL OR bonus_threshold_bp BETWEEN 0 AND 10000",
            name="ck_contract_terms_bonus_threshold_bp",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    approval_id: int = Field(foreign_key="approval.id", index=True)
    version: int
    unit_price_ore: int
    valid_from: date
    # Volume guarantee (take-or-pay).
    min_units_per_month: int = 0
    shortfall_rate_bp: int = 0
    # Volume rebate above a threshold; no rebate while the threshold is unset.
    rebate_threshold_units: int | None = None
    rebate_bp: int = 0
    # SLA malus per whole point below target, capped; bonus at or above a threshold.
    on_time_target_bp: int = 0
    malus_bp_per_point: int = 0
    malus_cap_bp: int = 0
    bonus_threshold_bp: int | None = None
    bonus_bp: int = 0
    # Shares of the unit price paid for work done that did not end in a delivery.
    citizen_absent_share_bp: int = 0
    late_cancel_share_bp: int = 0
    # VAT of the e-invoice (UNCL5305 category, rate, and for an exempt category
    # the legal ground); the statement's amounts are always net of VAT.
    vat_category: str = Field(default="E", max_length=2)
    vat_rate_bp: int = 0
    vat_exemption_reason: str = Field(default="", sa_type=Text)
    note: str = Field(default="", sa_type=Text)
    created_by_user_id: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    def terms(self) -> value.ContractTerms:
        """The terms this version sets, as the value object settlement computes with."""
        return value.ContractTerms(
            unit_price_ore=self.unit_price_ore,
            min_units_per_month=self.min_units_per_month,
            shortfall_rate_bp=self.shortfall_rate_bp,
            rebate_threshold_units=self.rebate_threshold_units,
            rebate_bp=self.rebate_bp,
            on_time_target_bp=self.on_time_target_bp,
            malus_bp_per_point=self.malus_bp_per_point,
            malus_cap_bp=self.malus_cap_bp,
            bonus_threshold_bp=self.bonus_threshold_bp,
            bonus_bp=self.bonus_bp,
            citizen_absent_share_bp=self.citizen_absent_share_bp,
            late_cancel_share_bp=self.late_cancel_share_bp,
        )


# The row class's name before the value object took it; other packages and
# tests still import the row under it.
ContractTerms = ContractTermsVersion


class Offer(SQLModel, table=True):
    """A meal (or other unit of service) on a provider's menu. It has no price of
    its own: the catalogue shows the provider's contract unit price."""

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    service: str = Field(default="madservice", max_length=50)
    name: str = Field(max_length=120)
    description: str = Field(default="", sa_type=Text)
    diet_forms: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    allergens: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    weekdays: str = Field(
        default="1,2,3,4,5,6,7",
        max_length=13,
        description="ISO weekdays it is offered, e.g. '1,2,3,4,5'",
    )
    daily_capacity: int | None = None
    photo_storage_name: str | None = Field(default=None, max_length=64)
    thumbnail_storage_name: str | None = Field(default=None, max_length=64)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    def offered_on(self, weekday: int) -> bool:
        return str(weekday) in self.weekdays.split(",")


class OrderingProfile(SQLModel, table=True):
    """How a provider takes orders: its cut-off, delivery window and acceptance."""

    __tablename__ = "provider_ordering_profile"

    provider_id: int = Field(foreign_key="provider.id", primary_key=True)
    cutoff_days_before: int = 1
    cutoff_time: time = time(14, 0)
    window_start: time = time(11, 0)
    window_end: time = time(13, 0)
    accept_within_hours: int = 4
    auto_accept: bool = False
    webhook_url: str | None = Field(default=None, max_length=500)
    webhook_secret: str | None = Field(default=None, max_length=100)
    # After a rotation the old secret keeps signing until this instant, so the
    # kitchen system can switch over without losing a message.
    webhook_previous_secret: str | None = Field(default=None, max_length=100)
    webhook_previous_secret_until: datetime | None = Field(default=None, sa_type=UTCDateTime)

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets that sign a webhook now: the current one, and during a
        rotation's grace period the previous one as well."""
        secrets = [self.webhook_secret] if self.webhook_secret else []
        until = self.webhook_previous_secret_until
        if self.webhook_previous_secret and until is not None and now < until:
            secrets.append(self.webhook_previous_secret)
        return secrets
