"""API input and output, and the plain values services take and give."""

from dataclasses import dataclass, field
from datetime import date, datetime

from pydantic import BaseModel, Field

from market.dietary import Allergen, DietForm
from vouchers.models import GrantStatus, VoucherService


@dataclass(frozen=True)
class GrantTerms:
    """What a case worker decides in an assessment."""

    units_per_week: int
    valid_from: date
    valid_to: date
    copayment_ore: int
    service: VoucherService = VoucherService.MAIN_MEAL
    diet_form: DietForm = DietForm.NORMAL
    allergies: tuple[Allergen, ...] = ()
    reassess_on: date | None = None
    rollover: bool = False


@dataclass(frozen=True)
class CitizenDetails:
    full_name: str
    cpr: str
    address: str
    postal_code: str
    phone: str | None = None
    email: str | None = None
    language: str = "da"
    diet_form: DietForm = DietForm.NORMAL
    diet_notes: str = ""
    allergies: tuple[Allergen, ...] = ()
    contact_name: str | None = None
    contact_phone: str | None = None


@dataclass(frozen=True)
class Move:
    """One ledger transfer as its caller sees it; ``replayed`` when the
    idempotency key had been used and nothing moved this time."""

    transfer_id: int
    idempotency_key: str
    grant_id: int
    units: int
    reason: str
    order_ref: str | None
    delivery_on: date | None
    replayed: bool


@dataclass
class LedgerReport:
    accounts: int = 0
    transfers: int = 0
    grants: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# --- API ---------------------------------------------------------------------


class CitizenIn(BaseModel):
    full_name: str
    cpr: str = Field(description="DDMMYY-SSSS or 10 digits; never returned")
    address: str
    postal_code: str
    phone: str | None = None
    email: str | None = None
    language: str = "da"
    diet_form: DietForm = DietForm.NORMAL
    diet_notes: str = ""
    allergies: list[Allergen] = []
    contact_name: str | None = None
    contact_phone: str | None = None


class CitizenOut(BaseModel):
    id: int
    full_name: str
    cpr_masked: str
    birth_date: date
    address: str
    postal_code: str
    phone: str | None
    language: str
    diet_form: DietForm
    diet_notes: str
    allergies: list[str]
    contact_name: str | None
    contact_phone: str | None


class GrantIn(BaseModel):
    units_per_week: int
    valid_from: date
    valid_to: date
    copayment_ore: int
    service: VoucherService = VoucherService.MAIN_MEAL
    diet_form: DietForm = DietForm.NORMAL
    allergies: list[Allergen] = []
    reassess_on: date | None = None
    rollover: bool = False

    def terms(self) -> GrantTerms:
        return GrantTerms(
            units_per_week=self.units_per_week,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
            copayment_ore=self.copayment_ore,
            service=self.service,
            diet_form=self.diet_form,
            allergies=tuple(self.allergies),
            reassess_on=self.reassess_on,
            rollover=self.rollover,
        )


class SupersedeIn(GrantIn):
    """valid_from is the day the new grant takes over."""


class RevokeIn(BaseModel):
    reason: str
    ends_on: date | None = None


class GrantOut(BaseModel):
    id: int
    citizen_id: int
    service: VoucherService
    units_per_week: int
    diet_form: DietForm
    allergies: list[str]
    valid_from: date
    valid_to: date
    reassess_on: date | None
    copayment_ore: int
    rollover: bool
    status: GrantStatus
    supersedes_id: int | None
    ended_reason: str | None


class ProxyIn(BaseModel):
    full_name: str
    email: str
    relation: str = ""


class ProxyOut(BaseModel):
    link_id: int
    user_id: int
    full_name: str
    email: str
    relation: str
    active: bool
    letter_code: str | None = None


class LetterCodeOut(BaseModel):
    code: str
    expires_at: datetime
    url: str


class WeekOut(BaseModel):
    iso_week: str
    week: int
    starts_on: date
    units_left: int
    units_reserved: int
    units_used: int


class CitizenChoice(BaseModel):
    citizen_id: int | None
    full_name: str


class VoucherOut(BaseModel):
    """For a proxy linked to several citizens and no citizen chosen, only ``choices``."""

    citizen_id: int | None
    full_name: str | None
    grant_id: int | None
    copayment_ore: int | None
    units_per_week: int | None
    valid_to: date | None
    weeks: list[WeekOut]
    choices: list[CitizenChoice] = []


class CapIn(BaseModel):
    cap_ore: int


class CapOut(BaseModel):
    year: int
    cap_ore: int


class SearchIn(BaseModel):
    q: str


class CitizenRecordOut(BaseModel):
    citizen: "CitizenOut"
    login: str
    has_password: bool
    grants: list["GrantOut"]
    proxies: list["ProxyOut"]
    letter_code_expires_at: datetime | None


class LedgerReportOut(BaseModel):
    ok: bool
    accounts: int
    transfers: int
    grants: int
    problems: list[str]
