"""API input and output. Inputs are deliberately lenient about text (amounts
as "85,00", thresholds as "5,5"): the service checks them and answers in
sentences, the same for the API and the HTML forms."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from providers.models import (
    ApplicationStatus,
    ApprovalStatus,
    RequirementKind,
    StandardStatus,
)


def _number_as_text(value: Any) -> Any:
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    return value


NumberText = Annotated[str, BeforeValidator(_number_as_text)]


class ProviderDetailsIn(BaseModel):
    name: str = Field(description="Business name as registered in CVR")
    address: str = Field(description="Street and number")
    postal_code: str = Field(description="Danish postal code, 4 digits")
    city: str
    contact_name: str = Field(description="Person the municipality contacts")
    contact_email: str
    contact_phone: str


class ProviderRegistration(ProviderDetailsIn):
    cvr: str = Field(description="CVR number, 8 digits, checked with modulus 11")
    admin_email: str = Field(description="Login e-mail of the provider's administrator")
    admin_full_name: str = Field(description="Full name of the provider's administrator")
    admin_password: str = Field(description="At least 10 characters")


class ProviderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    cvr: str
    address: str
    postal_code: str
    city: str
    contact_name: str
    contact_email: str
    contact_phone: str


class RegistrationOut(BaseModel):
    provider: ProviderOut
    admin_user_id: int = Field(description="The provider administrator's user id")


class StandardCreate(BaseModel):
    service: str = Field(default="madservice", description="The service, e.g. madservice")
    title: str = Field(description="Title of this version, e.g. Kvalitetsstandard for madservice")


class RequirementIn(BaseModel):
    key: str = Field(description="Short stable key, lower case letters, digits, - and _")
    title: str
    description: str = ""
    kind: RequirementKind
    mandatory: bool = True
    unit: str | None = Field(default=None, description="Unit of a numeric threshold, e.g. °C")
    min_value: NumberText | None = Field(
        default=None, description="Lowest acceptable value (numeric thresholds), e.g. 5000000"
    )
    max_value: NumberText | None = Field(
        default=None, description="Highest acceptable value (numeric thresholds), e.g. 5"
    )


class RequirementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    key: str
    title: str
    description: str
    kind: RequirementKind
    mandatory: bool
    unit: str | None
    min_value: Decimal | None
    max_value: Decimal | None


class PublishIn(BaseModel):
    reapply_by: date | None = Field(
        default=None,
        description="Required when this version supersedes a published one: "
        "approved providers must re-apply by this day",
    )


class StandardSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    municipality_id: int
    service: str
    version: int
    title: str
    status: StandardStatus
    published_at: datetime | None
    reapply_by: date | None


class StandardOut(BaseModel):
    id: int
    municipality_id: int
    service: str
    version: int
    title: str
    status: StandardStatus
    published_at: datetime | None
    reapply_by: date | None
    requirements: list[RequirementOut]


class ApplicationCreate(BaseModel):
    municipality_id: int = Field(description="The municipality to apply to")
    service: str = Field(default="madservice")


class EvidenceIn(BaseModel):
    requirement_id: int
    attested: bool = Field(default=False, description="We meet this requirement")
    statement: str = Field(default="", description="How the requirement is met")
    value: NumberText | None = Field(
        default=None, description="The measured or insured value, for numeric thresholds"
    )


class EvidenceSave(BaseModel):
    evidence: list[EvidenceIn]


class UploadOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    requirement_id: int
    original_filename: str
    content_type: str = Field(description="Sniffed from the content, not taken from the client")
    size_bytes: int
    sha256: str
    uploaded_at: datetime
    url: str = Field(description="Where an allowed user downloads the document")


class EvidenceOut(BaseModel):
    requirement_id: int
    attested: bool
    statement: str
    value: Decimal | None
    meets_threshold: bool | None = Field(
        description="For numeric thresholds: whether the value lies within min and max"
    )


class ReviewOut(BaseModel):
    requirement_id: int
    met: bool
    comment: str


class ApplicationOut(BaseModel):
    id: int
    provider_id: int
    provider_name: str
    municipality_id: int
    standard_id: int
    status: ApplicationStatus
    created_at: datetime
    submitted_at: datetime | None
    decided_at: datetime | None
    rejection_reason: str | None
    evidence: list[EvidenceOut]
    uploads: list[UploadOut]
    reviews: list[ReviewOut]


class ApplicationSummary(BaseModel):
    id: int
    provider_id: int
    provider_name: str
    municipality_id: int
    status: ApplicationStatus
    submitted_at: datetime | None


class DecisionIn(BaseModel):
    requirement_id: int
    met: bool
    comment: str = ""


class DecisionsIn(BaseModel):
    decisions: list[DecisionIn]


class ApprovalIn(BaseModel):
    valid_from: date
    valid_to: date = Field(description="Last day of validity, after valid_from")
    service_area: str = Field(
        description="Postal codes of the municipality, separated by commas or spaces"
    )
    daily_capacity: int = Field(description="Units the provider can deliver per day, above 0")
    unit_price: NumberText = Field(
        description="Unit price in kroner, e.g. '85,00' or '85.00'; stored as whole øre"
    )


class ReasonIn(BaseModel):
    reason: str = Field(description="Why: shown to the provider and kept in the audit log")


class ApprovalOut(BaseModel):
    id: int
    provider_id: int
    provider_name: str
    municipality_id: int
    service: str
    status: ApprovalStatus
    effective_status: str = Field(
        description="active, not_yet_valid, expired, suspended, revoked or replaced, for today"
    )
    valid_from: date
    valid_to: date
    service_area: list[str]
    daily_capacity: int
    unit_price_ore: int | None
    reapply_by: date | None
    status_reason: str | None


class DirectoryEntry(BaseModel):
    provider: ProviderOut
    approvals: list[ApprovalOut]
    application_statuses: list[ApplicationStatus]


class ContractTermsIn(BaseModel):
    """A new version of an approval's contract terms: money in øre, rates in
    basis points (1 % = 100 bp)."""

    valid_from: date = Field(description="First day of a month, after the latest version's start")
    unit_price_ore: int = Field(description="What the municipality recognises per unit, above 0")
    min_units_per_month: int = 0
    shortfall_rate_bp: int = 0
    rebate_threshold_units: int | None = Field(default=None, description="None: no rebate")
    rebate_bp: int = 0
    on_time_target_bp: int = 0
    malus_bp_per_point: int = 0
    malus_cap_bp: int = 0
    bonus_threshold_bp: int | None = Field(default=None, description="None: no bonus")
    bonus_bp: int = 0
    citizen_absent_share_bp: int = 0
    late_cancel_share_bp: int = 0
    note: str = ""
    vat_category: str = Field(
        default="E", description="E-invoice VAT category: S (standard), Z (zero), E (exempt)"
    )
    vat_rate_bp: int = Field(default=0, description="VAT rate for category S, e.g. 2500")
    vat_exemption_reason: str = Field(
        default="", description="Category E: the legal ground; empty for the standard text"
    )


class ContractTermsOut(ContractTermsIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    approval_id: int
    version: int
    created_by_user_id: int
    created_at: datetime


class ContractTermsHistoryOut(BaseModel):
    approval_id: int
    in_force_version: int | None = Field(description="The version in force today")
    versions: list[ContractTermsOut]


class WebhookSecretOut(BaseModel):
    """Shown once, to the provider's administrator, right after a rotation."""

    secret: str
    previous_signs_until: datetime | None = Field(
        description="Until then each webhook also carries a signature with the previous secret."
    )
