"""The rules of the providers domain: registration, quality standards,
applications with evidence, requirement-by-requirement review, approvals and
their contract terms. Services flush, never commit, and record every change
in the audit chain as their last write."""

import asyncio
import hashlib
import io
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Protocol, TypeVar

import filetype
import pypdf
from babel.numbers import NumberFormatError
from babel.numbers import parse_decimal as babel_parse_decimal
from sqlalchemy.ext.asyncio import AsyncSession

from market import images
from market.audit import service as audit
from market.auth import service as auth_service
from market.auth.models import MUNICIPAL_ROLES, Role, User
from market.auth.permissions import Actor, Permission
from market.clock import today
from market.config import Settings, get_settings
from market.db import utcnow
from market.dietary import Allergen, DietForm
from market.errors import (
    N_,
    Conflict,
    IllegalTransition,
    InvalidInput,
    PermissionDenied,
    UnsupportedMediaType,
)
from market.money import parse_kroner
from market.municipalities import service as municipalities
from market.municipalities.models import Municipality
from market.outbox import delivery, guard
from providers import repository
from providers.exceptions import (
    ApplicationNotFound,
    ApprovalNotFound,
    CvrTaken,
    InvalidCvr,
    NoPublishedStandard,
    NotAMunicipalUser,
    NotAProviderUser,
    OfferNotFound,
    ProviderNotFound,
    RequirementNotFound,
    StandardNotEditable,
    StandardNotFound,
    UploadDamaged,
    UploadNotFound,
    UploadTooLarge,
    UploadTypeNotAllowed,
)
from providers.models import (
    Application,
    ApplicationStatus,
    Approval,
    ApprovalStatus,
    ContractTerms,
    Evidence,
    EvidenceUpload,
    Offer,
    OrderingProfile,
    PayoutMethod,
    Provider,
    QualityStandard,
    Requirement,
    RequirementKind,
    RequirementReview,
    StandardStatus,
)
from providers.schemas import (
    ApprovalIn,
    DecisionIn,
    EvidenceIn,
    ProviderDetailsIn,
    ProviderRegistration,
    RequirementIn,
    StandardCreate,
)

DEFAULT_SERVICE = "madservice"
CVR_WEIGHTS = (2, 7, 6, 5, 4, 3, 2, 1)
ALLOWED_UPLOAD_TYPES = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
}
UPLOAD_CHUNK = 64 * 1024
S = TypeVar("S", bound=StrEnum)


# lifecycles

STANDARD_TRANSITIONS: dict[StandardStatus, frozenset[StandardStatus]] = {
    StandardStatus.DRAFT: frozenset({StandardStatus.PUBLISHED}),
    StandardStatus.PUBLISHED: frozenset({StandardStatus.SUPERSEDED}),
    StandardStatus.SUPERSEDED: frozenset(),
}

APPLICATION_TRANSITIONS: dict[ApplicationStatus, frozenset[ApplicationStatus]] = {
    ApplicationStatus.DRAFT: frozenset({ApplicationStatus.SUBMITTED, ApplicationStatus.WITHDRAWN}),
    ApplicationStatus.SUBMITTED: frozenset(
        {ApplicationStatus.APPROVED, ApplicationStatus.REJECTED, ApplicationStatus.WITHDRAWN}
    ),
    ApplicationStatus.APPROVED: frozenset(),
    ApplicationStatus.REJECTED: frozenset(),
    ApplicationStatus.WITHDRAWN: frozenset(),
}

APPROVAL_TRANSITIONS: dict[ApprovalStatus, frozenset[ApprovalStatus]] = {
    ApprovalStatus.ACTIVE: frozenset(
        {ApprovalStatus.SUSPENDED, ApprovalStatus.REVOKED, ApprovalStatus.REPLACED}
    ),
    ApprovalStatus.SUSPENDED: frozenset({ApprovalStatus.ACTIVE, ApprovalStatus.REVOKED}),
    ApprovalStatus.REVOKED: frozenset(),
    ApprovalStatus.REPLACED: frozenset(),
}


# Whole sentences, so each reads right once translated: "An approval that is
# revoked cannot be reinstated." Moves nobody can ask for share the fallback.
_REFUSALS: dict[tuple[type[StrEnum], StrEnum, StrEnum], str] = {
    (StandardStatus, StandardStatus.PUBLISHED, StandardStatus.PUBLISHED): N_(
        "A quality standard that is published cannot be published."
    ),
    (StandardStatus, StandardStatus.SUPERSEDED, StandardStatus.PUBLISHED): N_(
        "A quality standard that is superseded cannot be published."
    ),
    (ApplicationStatus, ApplicationStatus.DRAFT, ApplicationStatus.APPROVED): N_(
        "An application that is a draft cannot be approved."
    ),
    (ApplicationStatus, ApplicationStatus.APPROVED, ApplicationStatus.APPROVED): N_(
        "An application that is approved cannot be approved."
    ),
    (ApplicationStatus, ApplicationStatus.REJECTED, ApplicationStatus.APPROVED): N_(
        "An application that is rejected cannot be approved."
    ),
    (ApplicationStatus, ApplicationStatus.WITHDRAWN, ApplicationStatus.APPROVED): N_(
        "An application that is withdrawn cannot be approved."
    ),
    (ApplicationStatus, ApplicationStatus.DRAFT, ApplicationStatus.REJECTED): N_(
        "An application that is a draft cannot be rejected."
    ),
    (ApplicationStatus, ApplicationStatus.APPROVED, ApplicationStatus.REJECTED): N_(
        "An application that is approved cannot be rejected."
    ),
    (ApplicationStatus, ApplicationStatus.REJECTED, ApplicationStatus.REJECTED): N_(
        "An application that is rejected cannot be rejected."
    ),
    (ApplicationStatus, ApplicationStatus.WITHDRAWN, ApplicationStatus.REJECTED): N_(
        "An application that is withdrawn cannot be rejected."
    ),
    (ApplicationStatus, ApplicationStatus.APPROVED, ApplicationStatus.WITHDRAWN): N_(
        "An application that is approved cannot be withdrawn."
    ),
    (ApplicationStatus, ApplicationStatus.REJECTED, ApplicationStatus.WITHDRAWN): N_(
        "An application that is rejected cannot be withdrawn."
    ),
    (ApplicationStatus, ApplicationStatus.WITHDRAWN, ApplicationStatus.WITHDRAWN): N_(
        "An application that is withdrawn cannot be withdrawn."
    ),
    (ApprovalStatus, ApprovalStatus.ACTIVE, ApprovalStatus.ACTIVE): N_(
        "An approval that is active cannot be reinstated."
    ),
    (ApprovalStatus, ApprovalStatus.REVOKED, ApprovalStatus.ACTIVE): N_(
        "An approval that is revoked cannot be reinstated."
    ),
    (ApprovalStatus, ApprovalStatus.REPLACED, ApprovalStatus.ACTIVE): N_(
        "An approval that is replaced cannot be reinstated."
    ),
    (ApprovalStatus, ApprovalStatus.SUSPENDED, ApprovalStatus.SUSPENDED): N_(
        "An approval that is suspended cannot be suspended."
    ),
    (ApprovalStatus, ApprovalStatus.REVOKED, ApprovalStatus.SUSPENDED): N_(
        "An approval that is revoked cannot be suspended."
    ),
    (ApprovalStatus, ApprovalStatus.REPLACED, ApprovalStatus.SUSPENDED): N_(
        "An approval that is replaced cannot be suspended."
    ),
    (ApprovalStatus, ApprovalStatus.REVOKED, ApprovalStatus.REVOKED): N_(
        "An approval that is revoked cannot be revoked."
    ),
    (ApprovalStatus, ApprovalStatus.REPLACED, ApprovalStatus.REVOKED): N_(
        "An approval that is replaced cannot be revoked."
    ),
    (ApprovalStatus, ApprovalStatus.SUSPENDED, ApprovalStatus.REPLACED): N_(
        "An approval that is suspended cannot be replaced by a new approval. "
        "Reinstate or revoke it first."
    ),
    (ApprovalStatus, ApprovalStatus.REVOKED, ApprovalStatus.REPLACED): N_(
        "An approval that is revoked cannot be replaced by a new approval."
    ),
    (ApprovalStatus, ApprovalStatus.REPLACED, ApprovalStatus.REPLACED): N_(
        "An approval that is replaced cannot be replaced by a new approval."
    ),
}
_REFUSAL_FALLBACK = N_("That change is not possible in the current state.")
_CHANGED_MEANWHILE: dict[type[StrEnum], str] = {
    StandardStatus: N_(
        "The quality standard was changed by someone else just now. Please reload and try again."
    ),
    ApplicationStatus: N_(
        "The application was changed by someone else just now. Please reload and try again."
    ),
    ApprovalStatus: N_(
        "The approval was changed by someone else just now. Please reload and try again."
    ),
}
_NOT_EDITABLE: dict[ApplicationStatus, str] = {
    ApplicationStatus.SUBMITTED: N_("An application that is submitted cannot be changed."),
    ApplicationStatus.APPROVED: N_("An application that is approved cannot be changed."),
    ApplicationStatus.REJECTED: N_("An application that is rejected cannot be changed."),
    ApplicationStatus.WITHDRAWN: N_("An application that is withdrawn cannot be changed."),
}
_NOT_REVIEWABLE: dict[ApplicationStatus, str] = {
    ApplicationStatus.DRAFT: N_("An application that is a draft cannot be reviewed."),
    ApplicationStatus.APPROVED: N_("An application that is approved cannot be reviewed."),
    ApplicationStatus.REJECTED: N_("An application that is rejected cannot be reviewed."),
    ApplicationStatus.WITHDRAWN: N_("An application that is withdrawn cannot be reviewed."),
}


def check_transition(transitions: dict[S, frozenset[S]], current: S, target: S) -> None:
    if target not in transitions[current]:
        raise IllegalTransition(_REFUSALS.get((type(current), current, target), _REFUSAL_FALLBACK))


async def _move(
    session: AsyncSession,
    row: Application | Approval | QualityStandard,
    transitions: dict[S, frozenset[S]],
    target: S,
    **values: object,
) -> None:
    """Checks the move against the table and makes it with one conditional
    UPDATE, so a concurrent change by someone else is refused, not overwritten."""
    current = row.status
    check_transition(transitions, current, target)  # type: ignore[arg-type]
    assert row.id is not None
    if not await repository.move_status(session, type(row), row.id, current, target, values):
        raise Conflict(_CHANGED_MEANWHILE[type(current)])


class EffectiveStatus(StrEnum):
    """An approval's status on a given day: the stored status, refined by its dates."""

    ACTIVE = "active"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    REPLACED = "replaced"


def effective_status(approval: Approval, on: date) -> EffectiveStatus:
    if approval.status != ApprovalStatus.ACTIVE:
        return EffectiveStatus(approval.status.value)
    if on > approval.valid_to:
        return EffectiveStatus.EXPIRED
    if on < approval.valid_from:
        return EffectiveStatus.NOT_YET_VALID
    return EffectiveStatus.ACTIVE


def is_active(approval: Approval, on: date) -> bool:
    return effective_status(approval, on) is EffectiveStatus.ACTIVE


async def active_approvals(
    session: AsyncSession, *, municipality_id: int, on: date, service: str | None = None
) -> list[Approval]:
    """Approvals in force in the municipality on that day (ordering uses this)."""
    return list(await repository.active_approvals(session, municipality_id, on, service))


async def current_contract_terms(
    session: AsyncSession, *, approval_id: int, on: date
) -> ContractTerms | None:
    return await terms_in_force(session, approval_id=approval_id, on=on)


async def terms_in_force(
    session: AsyncSession, *, approval_id: int, on: date
) -> ContractTerms | None:
    """The contract terms version in force on the day: the one with the latest
    start on or before it (None before the first version starts)."""
    return await repository.terms_in_force(session, approval_id, on)


# parsing of people's input


def check_cvr(cvr: str) -> str:
    """A CVR number: 8 digits, not starting with 0, weighted sum divisible by 11."""
    digits = re.sub(r"[\s-]", "", cvr or "")
    if (
        len(digits) != 8
        or not digits.isdigit()
        or digits[0] == "0"
        or sum(int(d) * w for d, w in zip(digits, CVR_WEIGHTS, strict=True)) % 11
    ):
        raise InvalidCvr(cvr.strip() if cvr else "")
    return digits


def _normalise_number(text: str) -> str:
    s = text.strip().replace("\u00a0", "").replace(" ", "").replace("_", "")
    s = re.sub(r"(?i)\s*kr\.?$", "", s)
    if "," in s:  # Danish: 5.000.000,50
        s = s.replace(".", "").replace(",", ".")
    elif s.count(".") > 1:  # 5.000.000
        s = s.replace(".", "")
    return s


def parse_decimal(text: str) -> Decimal:
    try:
        value = Decimal(_normalise_number(text))
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise InvalidInput(N_("“{text}” is not a number."), text=text)
    return value.to_integral_value() if value == value.to_integral_value() else value.normalize()


def parse_unit_price(text: str) -> int:
    ore = parse_kroner(text)
    if ore <= 0:
        raise InvalidInput(N_("The unit price must be more than 0 kroner."))
    return ore


def parse_percent_bp(text: str) -> int:
    """'5', '2,5', '2.5 %' → basis points, exactly (Babel's strict parser, Danish
    first, as market.money parses kroner): 1 % = 100 bp, at most two decimals."""
    cleaned = str(text).strip().removesuffix("%").strip()
    amount: Decimal | None = None
    for locale in ("da", "en"):
        try:
            amount = babel_parse_decimal(cleaned, locale=locale, strict=True)
            break
        except NumberFormatError:
            continue
    if amount is None or not amount.is_finite():
        raise InvalidInput(N_("“{text}” is not a percentage. Write it like 5 or 2,5."), text=text)
    bp = amount * 100
    if bp != bp.to_integral_value():
        raise InvalidInput(
            N_("“{text}” has too many decimals: a percentage can have at most two."), text=text
        )
    return int(bp)


def split_postal_codes(text: str) -> list[str]:
    return [code for code in re.split(r"[\s,;]+", text or "") if code]


def _required(value: str, missing: str, max_length: int) -> str:
    """``missing`` is the whole sentence to show when the field is empty."""
    value = (value or "").strip()
    if not value:
        raise InvalidInput(missing)
    if len(value) > max_length:
        raise InvalidInput(
            N_("“{start}…” is too long: at most {max} characters."),
            start=value[:30],
            max=max_length,
        )
    return value


# scoping


def _provider_of(actor: Actor) -> int:
    if actor.provider_id is None:
        raise NotAProviderUser()
    return actor.provider_id


def _municipality_of(actor: Actor) -> int:
    if actor.municipality_id is None or actor.role not in MUNICIPAL_ROLES:
        raise NotAMunicipalUser()
    return actor.municipality_id


def _may_see_application(actor: Actor, application: Application) -> bool:
    """The provider's own users, and staff of the municipality applied to whose
    role may read evidence (admins, auditors) — nobody else."""
    if actor.provider_id is not None:
        return actor.provider_id == application.provider_id
    return (
        actor.municipality_id is not None
        and actor.municipality_id == application.municipality_id
        and actor.can(Permission.EVIDENCE_VIEW)
    )


# providers


def _clean_details(details: ProviderDetailsIn) -> dict[str, str]:
    postal_code = (details.postal_code or "").strip()
    if not re.fullmatch(r"[1-9]\d{3}", postal_code):
        raise InvalidInput(
            N_("{postal_code} is not a Danish postal code (4 digits)."),
            postal_code=postal_code or "''",
        )
    email = (details.contact_email or "").strip()
    if "@" not in email.strip("@"):
        raise InvalidInput(N_("{email} is not an e-mail address."), email=email or "''")
    return {
        "name": _required(details.name, N_("Please fill in the business name."), 200),
        "address": _required(details.address, N_("Please fill in the address."), 200),
        "postal_code": postal_code,
        "city": _required(details.city, N_("Please fill in the city."), 80),
        "contact_name": _required(
            details.contact_name, N_("Please fill in the contact person."), 200
        ),
        "contact_email": _required(email, N_("Please fill in the contact e-mail."), 254).lower(),
        "contact_phone": _required(
            details.contact_phone, N_("Please fill in the contact phone."), 32
        ),
    }


@dataclass
class Registration:
    provider: Provider
    admin: User
    session_token: str | None


async def register_provider(
    session: AsyncSession,
    *,
    actor: Actor | None,
    registration: ProviderRegistration,
    sign_in: Settings | None = None,
) -> Registration:
    """A provider signs itself up with its first administrator. With ``sign_in``
    (the settings) a session is opened for that administrator."""
    cvr = check_cvr(registration.cvr)
    details = _clean_details(registration)
    if await repository.get_provider_by_cvr(session, cvr) is not None:
        raise CvrTaken(cvr)
    provider = await repository.add(session, Provider(cvr=cvr, **details))
    assert provider.id is not None
    admin = await auth_service.create_user(
        session,
        actor=actor,
        email=registration.admin_email,
        full_name=registration.admin_full_name,
        password=registration.admin_password,
        role=Role.PROVIDER_ADMIN,
        provider_id=provider.id,
    )
    token = None
    if sign_in is not None:
        token = await auth_service.open_session(session, settings=sign_in, user=admin)
    await audit.record(
        session,
        actor=actor or auth_service.actor_for(admin),
        action="provider.registered",
        entity_type="provider",
        entity_id=provider.id,
        municipality_id=None,
        data={"cvr": cvr, "name": provider.name, "admin_user_id": admin.id},
    )
    return Registration(provider=provider, admin=admin, session_token=token)


async def own_provider(session: AsyncSession, *, actor: Actor) -> Provider:
    provider = await repository.get_provider(session, _provider_of(actor))
    if provider is None:
        raise ProviderNotFound()
    return provider


async def update_provider(
    session: AsyncSession, *, actor: Actor, details: ProviderDetailsIn
) -> Provider:
    provider = await own_provider(session, actor=actor)
    cleaned = _clean_details(details)
    changed = {k: v for k, v in cleaned.items() if getattr(provider, k) != v}
    for key, value in cleaned.items():
        setattr(provider, key, value)
    await repository.save(session, provider)
    assert provider.id is not None
    await audit.record(
        session,
        actor=actor,
        action="provider.updated",
        entity_type="provider",
        entity_id=provider.id,
        municipality_id=None,
        data={"changed": sorted(changed)},
    )
    return provider


async def set_payout_details(
    session: AsyncSession,
    *,
    actor: Actor,
    method: PayoutMethod,
    iban: str | None,
    bic: str | None,
    stripe_account_id: str | None,
) -> Provider:
    """Where the provider's settlements are paid. The caller (market.payouts)
    has checked the IBAN, BIC and Stripe account; the provider's admin decides."""
    if not actor.can(Permission.PROVIDER_PROFILE_EDIT):
        raise PermissionDenied(N_("Only a provider's administrator can change the payout details."))
    provider = await own_provider(session, actor=actor)
    provider.payout_method = method
    provider.payout_iban = iban
    provider.payout_bic = bic
    provider.stripe_account_id = stripe_account_id
    await repository.save(session, provider)
    assert provider.id is not None
    await audit.record(
        session,
        actor=actor,
        action="provider.payout_details_set",
        entity_type="provider",
        entity_id=provider.id,
        municipality_id=None,
        data={
            "method": method,
            "iban_last4": iban[-4:] if iban else None,
            "bic": bic,
            "stripe_account_id": stripe_account_id,
        },
    )
    return provider


# quality standards


@dataclass
class StandardView:
    standard: QualityStandard
    requirements: list[Requirement]
    municipality: Municipality


async def list_standards(session: AsyncSession, *, actor: Actor) -> list[QualityStandard]:
    return list(await repository.list_standards(session, _municipality_of(actor)))


async def _standard_for_editing(
    session: AsyncSession, actor: Actor, standard_id: int
) -> QualityStandard:
    standard = await repository.get_standard(session, standard_id)
    if standard is None or standard.municipality_id != _municipality_of(actor):
        raise StandardNotFound()
    if standard.status != StandardStatus.DRAFT:
        raise StandardNotEditable(standard.status)
    return standard


async def _standard_view(session: AsyncSession, standard: QualityStandard) -> StandardView:
    assert standard.id is not None
    municipality = await municipalities.get(session, municipality_id=standard.municipality_id)
    requirements = list(await repository.list_requirements(session, standard.id))
    return StandardView(standard=standard, requirements=requirements, municipality=municipality)


async def get_standard(session: AsyncSession, *, actor: Actor, standard_id: int) -> StandardView:
    """Municipal staff see their own municipality's versions; providers see
    published and superseded versions everywhere (the standards are public)."""
    standard = await repository.get_standard(session, standard_id)
    visible = standard is not None and (
        standard.municipality_id == actor.municipality_id
        or (actor.provider_id is not None and standard.status != StandardStatus.DRAFT)
    )
    if standard is None or not visible or standard.id is None:
        raise StandardNotFound()
    municipality = await municipalities.get(session, municipality_id=standard.municipality_id)
    requirements = list(await repository.list_requirements(session, standard.id))
    return StandardView(standard=standard, requirements=requirements, municipality=municipality)


def _clean_service(service: str) -> str:
    service = (service or "").strip().lower()
    if not re.fullmatch(r"[a-zæøå0-9][a-zæøå0-9_-]{0,49}", service):
        raise InvalidInput(
            N_("Name the service in lower-case letters and digits, for example madservice.")
        )
    return service


async def create_standard(
    session: AsyncSession, *, actor: Actor, data: StandardCreate
) -> StandardView:
    """A new draft version; it starts as a copy of the published version's requirements."""
    municipality_id = _municipality_of(actor)
    service = _clean_service(data.service)
    title = _required(data.title, N_("Please give the standard a title."), 200)
    draft = await repository.standard_with_status(
        session, municipality_id, service, StandardStatus.DRAFT
    )
    if draft is not None:
        raise Conflict(
            N_(
                "Version {version} of the standard for {service} is still a draft. "
                "Finish and publish it before starting another."
            ),
            version=draft.version,
            service=service,
        )
    version = await repository.latest_version(session, municipality_id, service) + 1
    standard = await repository.add(
        session,
        QualityStandard(
            municipality_id=municipality_id, service=service, version=version, title=title
        ),
    )
    assert standard.id is not None
    published = await repository.standard_with_status(
        session, municipality_id, service, StandardStatus.PUBLISHED
    )
    if published is not None and published.id is not None:
        for old in await repository.list_requirements(session, published.id):
            await repository.add(
                session,
                Requirement(
                    standard_id=standard.id,
                    **old.model_dump(exclude={"id", "standard_id"}),
                ),
            )
    await audit.record(
        session,
        actor=actor,
        action="standard.created",
        entity_type="quality_standard",
        entity_id=standard.id,
        municipality_id=municipality_id,
        data={"service": service, "version": version, "title": title},
    )
    return await _standard_view(session, standard)


def _clean_requirement(data: RequirementIn) -> dict[str, object]:
    key = (data.key or "").strip().lower()
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,49}", key):
        raise InvalidInput(
            N_("The key must be 1 to 50 lower-case letters, digits, - or _, e.g. cold-chain.")
        )
    cleaned: dict[str, object] = {
        "key": key,
        "title": _required(data.title, N_("Please give the requirement a title."), 200),
        "description": (data.description or "").strip(),
        "kind": data.kind,
        "mandatory": data.mandatory,
        "unit": None,
        "min_value": None,
        "max_value": None,
    }
    if data.kind == RequirementKind.NUMERIC_THRESHOLD:
        low = parse_decimal(data.min_value) if data.min_value else None
        high = parse_decimal(data.max_value) if data.max_value else None
        if low is None and high is None:
            raise InvalidInput(N_("A numeric threshold needs a minimum, a maximum or both."))
        if low is not None and high is not None and low > high:
            raise InvalidInput(N_("The minimum cannot be larger than the maximum."))
        cleaned.update(
            unit=_required(
                data.unit or "", N_("A numeric threshold needs a unit, e.g. °C or kr."), 20
            ),
            min_value=low,
            max_value=high,
        )
    return cleaned


def _auditable(values: dict[str, object]) -> dict[str, object]:
    # The audit chain takes JSON: decimals go in as their exact text.
    return {k: str(v) if isinstance(v, Decimal) else v for k, v in values.items()}


async def add_requirement(
    session: AsyncSession, *, actor: Actor, standard_id: int, data: RequirementIn
) -> Requirement:
    standard = await _standard_for_editing(session, actor, standard_id)
    cleaned = _clean_requirement(data)
    if await repository.requirement_with_key(session, standard_id, str(cleaned["key"])):
        raise Conflict(
            N_("This standard already has a requirement with the key {key}."), key=cleaned["key"]
        )
    position = await repository.next_requirement_position(session, standard_id)
    requirement = await repository.add(
        session, Requirement(standard_id=standard_id, position=position, **cleaned)
    )
    assert requirement.id is not None
    await audit.record(
        session,
        actor=actor,
        action="standard.requirement_added",
        entity_type="quality_standard",
        entity_id=standard_id,
        municipality_id=standard.municipality_id,
        data={"requirement_id": requirement.id, **_auditable(cleaned)},
    )
    return requirement


async def _requirement_of(
    session: AsyncSession, standard_id: int, requirement_id: int
) -> Requirement:
    requirement = await repository.get_requirement(session, requirement_id)
    if requirement is None or requirement.standard_id != standard_id:
        raise RequirementNotFound()
    return requirement


async def update_requirement(
    session: AsyncSession,
    *,
    actor: Actor,
    standard_id: int,
    requirement_id: int,
    data: RequirementIn,
) -> Requirement:
    standard = await _standard_for_editing(session, actor, standard_id)
    requirement = await _requirement_of(session, standard_id, requirement_id)
    cleaned = _clean_requirement(data)
    other = await repository.requirement_with_key(session, standard_id, str(cleaned["key"]))
    if other is not None and other.id != requirement_id:
        raise Conflict(
            N_("This standard already has a requirement with the key {key}."), key=cleaned["key"]
        )
    for name, value in cleaned.items():
        setattr(requirement, name, value)
    await repository.save(session, requirement)
    await audit.record(
        session,
        actor=actor,
        action="standard.requirement_changed",
        entity_type="quality_standard",
        entity_id=standard_id,
        municipality_id=standard.municipality_id,
        data={"requirement_id": requirement_id, **_auditable(cleaned)},
    )
    return requirement


async def remove_requirement(
    session: AsyncSession, *, actor: Actor, standard_id: int, requirement_id: int
) -> None:
    standard = await _standard_for_editing(session, actor, standard_id)
    requirement = await _requirement_of(session, standard_id, requirement_id)
    await repository.delete_requirement(session, requirement_id)
    await audit.record(
        session,
        actor=actor,
        action="standard.requirement_removed",
        entity_type="quality_standard",
        entity_id=standard_id,
        municipality_id=standard.municipality_id,
        data={"requirement_id": requirement_id, "key": requirement.key},
    )


async def publish_standard(
    session: AsyncSession, *, actor: Actor, standard_id: int, reapply_by: date | None
) -> StandardView:
    """Publishes a draft. A version that supersedes a published one asks every
    approved provider to re-apply by ``reapply_by``."""
    municipality_id = _municipality_of(actor)
    standard = await repository.get_standard(session, standard_id)
    if standard is None or standard.municipality_id != municipality_id:
        raise StandardNotFound()
    check_transition(STANDARD_TRANSITIONS, standard.status, StandardStatus.PUBLISHED)
    assert standard.id is not None
    if not await repository.list_requirements(session, standard.id):
        raise Conflict(N_("Add at least one requirement before publishing the standard."))
    previous = await repository.standard_with_status(
        session, municipality_id, standard.service, StandardStatus.PUBLISHED
    )
    asked: list[int] = []
    if previous is not None:
        if reapply_by is None:
            raise InvalidInput(
                N_(
                    "This version replaces version {version}: give the date by which "
                    "approved providers must re-apply."
                ),
                version=previous.version,
            )
        if reapply_by <= today():
            raise InvalidInput(N_("The re-apply date must be after today."))
        check_transition(STANDARD_TRANSITIONS, previous.status, StandardStatus.SUPERSEDED)
        await _move(
            session,
            previous,
            STANDARD_TRANSITIONS,
            StandardStatus.SUPERSEDED,
        )
        asked = await repository.ask_to_reapply(
            session, municipality_id, standard.service, reapply_by, today()
        )
    else:
        reapply_by = None
    await _move(
        session,
        standard,
        STANDARD_TRANSITIONS,
        StandardStatus.PUBLISHED,
        published_at=utcnow(),
        reapply_by=reapply_by,
    )
    await audit.record(
        session,
        actor=actor,
        action="standard.published",
        entity_type="quality_standard",
        entity_id=standard.id,
        municipality_id=municipality_id,
        data={
            "service": standard.service,
            "version": standard.version,
            "superseded_id": previous.id if previous else None,
            "reapply_by": reapply_by,
            "approvals_asked_to_reapply": asked,
        },
    )
    return await _standard_view(session, standard)


# applications


class Readable(Protocol):
    async def read(self, size: int = -1) -> bytes: ...


@dataclass
class DocumentIn:
    """An uploaded file as the route received it; nothing about it is trusted."""

    requirement_id: int
    filename: str
    content: Readable


@dataclass
class RequirementState:
    requirement: Requirement
    evidence: Evidence | None
    uploads: list[EvidenceUpload]
    review: RequirementReview | None

    @property
    def meets_threshold(self) -> bool | None:
        """For numeric thresholds: whether the given value lies within min and max."""
        if self.requirement.kind != RequirementKind.NUMERIC_THRESHOLD:
            return None
        value = self.evidence.numeric_value if self.evidence else None
        if value is None:
            return None
        low, high = self.requirement.min_value, self.requirement.max_value
        return (low is None or value >= low) and (high is None or value <= high)

    @property
    def provider_says_met(self) -> bool:
        kind = self.requirement.kind
        if kind == RequirementKind.ATTESTATION:
            return bool(self.evidence and self.evidence.attested)
        if kind == RequirementKind.NUMERIC_THRESHOLD:
            return self.meets_threshold is True
        return bool(self.uploads)


@dataclass
class ApplicationView:
    application: Application
    provider: Provider
    standard: QualityStandard
    municipality: Municipality
    items: list[RequirementState]
    # The documents accepted by the request that produced this view.
    new_uploads: list[EvidenceUpload] = field(default_factory=list)


async def _load_application_view(
    session: AsyncSession, application: Application
) -> ApplicationView:
    assert application.id is not None
    provider = await repository.get_provider(session, application.provider_id)
    standard = await repository.get_standard(session, application.standard_id)
    assert provider is not None and standard is not None and standard.id is not None
    municipality = await municipalities.get(session, municipality_id=application.municipality_id)
    evidence = {
        e.requirement_id: e
        for e in await repository.evidence_of_application(session, application.id)
    }
    reviews = {
        r.requirement_id: r
        for r in await repository.reviews_of_application(session, application.id)
    }
    uploads: dict[int, list[EvidenceUpload]] = {}
    for upload in await repository.uploads_of_application(session, application.id):
        uploads.setdefault(upload.requirement_id, []).append(upload)
    items = [
        RequirementState(
            requirement=r,
            evidence=evidence.get(r.id or 0),
            uploads=uploads.get(r.id or 0, []),
            review=reviews.get(r.id or 0),
        )
        for r in await repository.list_requirements(session, standard.id)
    ]
    return ApplicationView(
        application=application,
        provider=provider,
        standard=standard,
        municipality=municipality,
        items=items,
    )


async def _visible_application(
    session: AsyncSession, actor: Actor, application_id: int
) -> Application:
    application = await repository.get_application(session, application_id)
    if application is None or not _may_see_application(actor, application):
        raise ApplicationNotFound()
    return application


async def get_application(
    session: AsyncSession, *, actor: Actor, application_id: int
) -> ApplicationView:
    application = await _visible_application(session, actor, application_id)
    return await _load_application_view(session, application)


async def start_application(
    session: AsyncSession, *, actor: Actor, municipality_id: int, service: str = DEFAULT_SERVICE
) -> ApplicationView:
    provider_id = _provider_of(actor)
    municipality = await municipalities.get(session, municipality_id=municipality_id)
    standard = await repository.standard_with_status(
        session, municipality_id, service, StandardStatus.PUBLISHED
    )
    if standard is None or standard.id is None:
        raise NoPublishedStandard(municipality.name, service)
    if await repository.open_application(session, provider_id, municipality_id, service):
        raise Conflict(
            N_(
                "You already have an open application to {municipality} for {service}. "
                "Continue that one or withdraw it first."
            ),
            municipality=municipality.name,
            service=service,
        )
    application = await repository.add(
        session,
        Application(
            provider_id=provider_id,
            municipality_id=municipality_id,
            standard_id=standard.id,
            created_by_user_id=actor.user_id,
        ),
    )
    assert application.id is not None
    await audit.record(
        session,
        actor=actor,
        action="application.created",
        entity_type="application",
        entity_id=application.id,
        municipality_id=municipality_id,
        data={"provider_id": provider_id, "standard_id": standard.id},
    )
    return await _load_application_view(session, application)


def _original_filename(filename: str) -> str:
    # Browsers on Windows used to send the full path; keep only the last part.
    name = PureWindowsPath(PurePosixPath(filename or "").name).name
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    return (name or "document")[:255]


async def _read_limited(content: Readable, limit: int) -> bytes:
    """Reads in chunks and stops as soon as the limit is passed."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await content.read(UPLOAD_CHUNK):
        size += len(chunk)
        if size > limit:
            raise UploadTooLarge(f"{limit / (1024 * 1024):g}")
        chunks.append(chunk)
    return b"".join(chunks)


def _check_pdf(data: bytes) -> None:
    """Parses the whole document: a %PDF header in front of anything else
    (HTML, a script) is not a PDF."""
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=True)
        if len(reader.pages) < 1:
            raise UploadDamaged()
        for page in reader.pages:
            page.get_contents()
    except UploadDamaged:
        raise
    except Exception as exc:  # pypdf raises many kinds on a broken file
        raise UploadDamaged() from exc


async def check_document(data: bytes, mime: str) -> None:
    """An evidence document is what its first bytes claim, read in full: an
    image decodes (its pixels counted before they are decoded), a PDF parses.
    In a worker thread: decoding blocks."""
    if mime == "application/pdf":
        await asyncio.to_thread(_check_pdf, data)
    else:
        try:
            await asyncio.to_thread(images.check_image, data)
        except UnsupportedMediaType as exc:
            raise UploadDamaged() from exc


@dataclass
class _PendingFile:
    path: Path
    data: bytes


async def _accept_document(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    application: Application,
    requirement_ids: set[int],
    document: DocumentIn,
) -> tuple[EvidenceUpload, _PendingFile]:
    if document.requirement_id not in requirement_ids:
        raise RequirementNotFound()
    data = await _read_limited(document.content, settings.max_upload_bytes)
    if not data:
        raise InvalidInput(N_("The file {filename} is empty."), filename=document.filename)
    kind = filetype.guess(data)
    if kind is None or kind.mime not in ALLOWED_UPLOAD_TYPES:
        raise UploadTypeNotAllowed()
    await check_document(data, kind.mime)
    storage_name = f"{secrets.token_urlsafe(24)}.{ALLOWED_UPLOAD_TYPES[kind.mime]}"
    assert application.id is not None
    upload = await repository.add(
        session,
        EvidenceUpload(
            provider_id=application.provider_id,
            application_id=application.id,
            requirement_id=document.requirement_id,
            original_filename=_original_filename(document.filename),
            content_type=kind.mime,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            storage_name=storage_name,
            uploaded_by_user_id=actor.user_id,
        ),
    )
    return upload, _PendingFile(path=Path(settings.upload_dir) / storage_name, data=data)


def _write_files(files: list[_PendingFile]) -> None:
    for pending in files:
        pending.path.parent.mkdir(parents=True, exist_ok=True)
        with pending.path.open("xb") as fh:
            fh.write(pending.data)


async def _store_files(files: list[_PendingFile]) -> None:
    """Written after every database write succeeded, so a refused request
    leaves no file behind; a failed write undoes the ones before it."""
    try:
        await asyncio.to_thread(_write_files, files)
    except BaseException:
        for pending in files:
            pending.path.unlink(missing_ok=True)
        raise


def _blocking_requirement(items: list[RequirementState]) -> RequirementState | None:
    for item in items:
        if item.requirement.mandatory and not item.provider_says_met:
            return item
    return None


def _unmet_sentence(item: RequirementState) -> InvalidInput | Conflict:
    req = item.requirement
    if req.kind == RequirementKind.NUMERIC_THRESHOLD and item.meets_threshold is False:
        limits = []
        if req.min_value is not None:
            limits.append(f"at least {req.min_value} {req.unit}")
        if req.max_value is not None:
            limits.append(f"at most {req.max_value} {req.unit}")
        return Conflict(
            N_(
                "The application cannot be submitted: “{title}” is mandatory and {value} {unit} "
                "does not meet it ({limits})."
            ),
            title=req.title,
            value=item.evidence.numeric_value if item.evidence else "",
            unit=req.unit,
            limits=" and ".join(limits),
        )
    if req.kind == RequirementKind.DOCUMENT:
        return Conflict(
            N_("The application cannot be submitted: “{title}” is mandatory and needs a document."),
            title=req.title,
        )
    if req.kind == RequirementKind.ATTESTATION:
        return Conflict(
            N_(
                "The application cannot be submitted: “{title}” is mandatory; "
                "confirm that you meet it."
            ),
            title=req.title,
        )
    return Conflict(
        N_("The application cannot be submitted: “{title}” is mandatory and needs a value."),
        title=req.title,
    )


async def save_application(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    application_id: int,
    evidence: Sequence[EvidenceIn] = (),
    documents: Sequence[DocumentIn] = (),
    submit: bool = False,
) -> ApplicationView:
    """Saves the provider's evidence on a draft and, with ``submit``, sends it
    for review once every mandatory requirement is met by the evidence."""
    application = await _visible_application(session, actor, application_id)
    if actor.provider_id is None:
        raise NotAProviderUser()
    if application.status != ApplicationStatus.DRAFT:
        raise IllegalTransition(_NOT_EDITABLE[application.status])
    assert application.id is not None
    requirements = {
        r.id: r for r in await repository.list_requirements(session, application.standard_id)
    }
    existing = {
        e.requirement_id: e
        for e in await repository.evidence_of_application(session, application.id)
    }
    changed: list[int] = []
    for answer in evidence:
        requirement = requirements.get(answer.requirement_id)
        if requirement is None:
            raise RequirementNotFound()
        value = None
        if requirement.kind == RequirementKind.NUMERIC_THRESHOLD and (answer.value or "").strip():
            value = parse_decimal(answer.value or "")
        row = existing.get(answer.requirement_id) or Evidence(
            application_id=application.id, requirement_id=answer.requirement_id
        )
        statement = (answer.statement or "").strip()
        if (row.attested, row.statement, row.numeric_value) != (answer.attested, statement, value):
            row.attested, row.statement, row.numeric_value = answer.attested, statement, value
            row.updated_at = utcnow()
            await repository.save(session, row)
            existing[answer.requirement_id] = row
            changed.append(answer.requirement_id)
    pending: list[_PendingFile] = []
    uploaded: list[EvidenceUpload] = []
    for document in documents:
        upload, file = await _accept_document(
            session,
            actor=actor,
            settings=settings,
            application=application,
            requirement_ids=set(requirements),  # type: ignore[arg-type]
            document=document,
        )
        pending.append(file)
        uploaded.append(upload)
    view = await _load_application_view(session, application)
    if not (submit or changed or uploaded):
        return view
    action = "application.saved"
    if submit:
        check_transition(
            APPLICATION_TRANSITIONS,
            application.status,
            ApplicationStatus.SUBMITTED,
        )
        if view.standard.status != StandardStatus.PUBLISHED:
            raise Conflict(
                N_(
                    "The quality standard changed since this application was started. "
                    "Withdraw it and start a new application against the current standard."
                )
            )
        blocking = _blocking_requirement(view.items)
        if blocking is not None:
            raise _unmet_sentence(blocking)
        await _move(
            session,
            application,
            APPLICATION_TRANSITIONS,
            ApplicationStatus.SUBMITTED,
            submitted_at=utcnow(),
        )
        action = "application.submitted"
    await audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="application",
        entity_id=application.id,
        municipality_id=application.municipality_id,
        data={"evidence_changed": changed, "uploads": [u.id for u in uploaded]},
    )
    await _store_files(pending)
    view.new_uploads = uploaded
    return view


async def withdraw_application(
    session: AsyncSession, *, actor: Actor, application_id: int
) -> ApplicationView:
    application = await _visible_application(session, actor, application_id)
    if actor.provider_id is None:
        raise NotAProviderUser()
    check_transition(APPLICATION_TRANSITIONS, application.status, ApplicationStatus.WITHDRAWN)
    await _move(
        session,
        application,
        APPLICATION_TRANSITIONS,
        ApplicationStatus.WITHDRAWN,
        decided_at=utcnow(),
    )
    assert application.id is not None
    await audit.record(
        session,
        actor=actor,
        action="application.withdrawn",
        entity_type="application",
        entity_id=application.id,
        municipality_id=application.municipality_id,
    )
    return await _load_application_view(session, application)


@dataclass
class QueueEntry:
    application: Application
    provider: Provider


async def review_queue(
    session: AsyncSession, *, actor: Actor, status: ApplicationStatus | None = None
) -> list[QueueEntry]:
    """Submitted applications of the actor's municipality, oldest first."""
    municipality_id = _municipality_of(actor)
    applications = await repository.applications_in_municipality(
        session, municipality_id, status or ApplicationStatus.SUBMITTED
    )
    providers = await repository.providers_by_ids(
        session, sorted({a.provider_id for a in applications})
    )
    return [QueueEntry(application=a, provider=providers[a.provider_id]) for a in applications]


async def _reviewable(session: AsyncSession, actor: Actor, application_id: int) -> Application:
    application = await repository.get_application(session, application_id)
    if application is None or application.municipality_id != _municipality_of(actor):
        raise ApplicationNotFound()
    if not actor.can(Permission.APPLICATION_REVIEW):
        raise PermissionDenied(N_("Your role does not allow this."))
    return application


async def record_decisions(
    session: AsyncSession, *, actor: Actor, application_id: int, decisions: Sequence[DecisionIn]
) -> ApplicationView:
    """The reviewer's met / not met per requirement; a later decision replaces an earlier one."""
    application = await _reviewable(session, actor, application_id)
    if application.status != ApplicationStatus.SUBMITTED:
        raise IllegalTransition(_NOT_REVIEWABLE[application.status])
    assert application.id is not None
    requirement_ids = {
        r.id for r in await repository.list_requirements(session, application.standard_id)
    }
    existing = {
        r.requirement_id: r
        for r in await repository.reviews_of_application(session, application.id)
    }
    recorded = []
    for decision in decisions:
        if decision.requirement_id not in requirement_ids:
            raise RequirementNotFound()
        comment = (decision.comment or "").strip()
        row = existing.get(decision.requirement_id)
        if row is not None and (row.met, row.comment) == (decision.met, comment):
            continue
        row = row or RequirementReview(
            application_id=application.id,
            requirement_id=decision.requirement_id,
            met=decision.met,
            decided_by_user_id=actor.user_id,
        )
        row.met, row.comment = decision.met, comment
        row.decided_by_user_id, row.decided_at = actor.user_id, utcnow()
        await repository.save(session, row)
        recorded.append({"requirement_id": decision.requirement_id, "met": decision.met})
    if recorded:
        await audit.record(
            session,
            actor=actor,
            action="application.reviewed",
            entity_type="application",
            entity_id=application.id,
            municipality_id=application.municipality_id,
            data={"decisions": recorded},
        )
    return await _load_application_view(session, application)


@dataclass
class ApprovalView:
    approval: Approval
    provider: Provider
    municipality_name: str
    effective_status: EffectiveStatus
    postal_codes: list[str]
    terms: ContractTerms | None


async def _approval_views(
    session: AsyncSession, approvals: Sequence[Approval], on: date
) -> list[ApprovalView]:
    ids = [a.id for a in approvals if a.id is not None]
    codes = await repository.postal_codes_of(session, ids)
    # The price in force on the day; an approval that has not started yet shows
    # the terms it will start with.
    terms = await repository.latest_terms_of(session, ids, on)
    not_started = [i for i in ids if i not in terms]
    if not_started:
        terms.update(await repository.latest_terms_of(session, not_started))
    providers = await repository.providers_by_ids(
        session, sorted({a.provider_id for a in approvals})
    )
    names = await repository.municipality_names(session) if approvals else {}
    return [
        ApprovalView(
            approval=a,
            provider=providers[a.provider_id],
            municipality_name=names.get(a.municipality_id, ""),
            effective_status=effective_status(a, on),
            postal_codes=codes.get(a.id or 0, []),
            terms=terms.get(a.id or 0),
        )
        for a in approvals
    ]


async def approve_application(
    session: AsyncSession, *, actor: Actor, application_id: int, terms: ApprovalIn
) -> ApprovalView:
    """Approves once every mandatory requirement is decided met, with the
    approval's validity, service area, capacity and first contract terms."""
    application = await _reviewable(session, actor, application_id)
    check_transition(APPLICATION_TRANSITIONS, application.status, ApplicationStatus.APPROVED)
    view = await _load_application_view(session, application)
    for item in view.items:
        if not item.requirement.mandatory:
            continue
        if item.review is None:
            raise Conflict(
                N_("Decide the mandatory requirement “{title}” before approving."),
                title=item.requirement.title,
            )
        if not item.review.met:
            raise Conflict(
                N_(
                    "The application cannot be approved: the mandatory requirement "
                    "“{title}” is not met."
                ),
                title=item.requirement.title,
            )
    if terms.valid_to <= terms.valid_from:
        raise InvalidInput(N_("The approval must end after the day it starts."))
    if terms.daily_capacity <= 0:
        raise InvalidInput(N_("The daily capacity must be at least 1 unit."))
    unit_price_ore = parse_unit_price(terms.unit_price)
    codes = split_postal_codes(terms.service_area)
    if not codes:
        raise InvalidInput(N_("Give the service area as one or more postal codes."))
    codes = await municipalities.check_postal_codes(
        session, municipality_id=application.municipality_id, codes=codes
    )
    # Claimed first: of two reviewers approving at once, the second stops here.
    await _move(
        session,
        application,
        APPLICATION_TRANSITIONS,
        ApplicationStatus.APPROVED,
        decided_at=utcnow(),
        decided_by_user_id=actor.user_id,
    )
    service = view.standard.service
    standing = await repository.standing_approval(
        session, application.provider_id, application.municipality_id, service
    )
    if standing is not None:
        check_transition(APPROVAL_TRANSITIONS, standing.status, ApprovalStatus.REPLACED)
        await _move(
            session,
            standing,
            APPROVAL_TRANSITIONS,
            ApprovalStatus.REPLACED,
            status_changed_at=utcnow(),
            status_reason=f"replaced by the approval of application {application.id}",
        )
    assert application.id is not None
    approval = await repository.add(
        session,
        Approval(
            provider_id=application.provider_id,
            municipality_id=application.municipality_id,
            service=service,
            application_id=application.id,
            standard_id=application.standard_id,
            valid_from=terms.valid_from,
            valid_to=terms.valid_to,
            daily_capacity=terms.daily_capacity,
            approved_by_user_id=actor.user_id,
        ),
    )
    assert approval.id is not None
    await repository.add_postal_codes(session, approval.id, codes)
    await repository.add(
        session,
        ContractTerms(
            approval_id=approval.id,
            version=1,
            unit_price_ore=unit_price_ore,
            valid_from=terms.valid_from,
            created_by_user_id=actor.user_id,
        ),
    )
    await audit.record(
        session,
        actor=actor,
        action="approval.granted",
        entity_type="approval",
        entity_id=approval.id,
        municipality_id=application.municipality_id,
        data={
            "application_id": application.id,
            "provider_id": application.provider_id,
            "valid_from": terms.valid_from,
            "valid_to": terms.valid_to,
            "service_area": codes,
            "daily_capacity": terms.daily_capacity,
            "unit_price_ore": unit_price_ore,
            "replaced_approval_id": standing.id if standing else None,
        },
    )
    return (await _approval_views(session, [approval], today()))[0]


async def reject_application(
    session: AsyncSession, *, actor: Actor, application_id: int, reason: str
) -> ApplicationView:
    application = await _reviewable(session, actor, application_id)
    check_transition(APPLICATION_TRANSITIONS, application.status, ApplicationStatus.REJECTED)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(N_("Give the reasons for the rejection; the provider will read them."))
    await _move(
        session,
        application,
        APPLICATION_TRANSITIONS,
        ApplicationStatus.REJECTED,
        rejection_reason=reason,
        decided_at=utcnow(),
        decided_by_user_id=actor.user_id,
    )
    assert application.id is not None
    await audit.record(
        session,
        actor=actor,
        action="application.rejected",
        entity_type="application",
        entity_id=application.id,
        municipality_id=application.municipality_id,
        data={"reason": reason},
    )
    return await _load_application_view(session, application)


# approvals


async def _move_approval(
    session: AsyncSession,
    actor: Actor,
    approval_id: int,
    target: ApprovalStatus,
    reason: str,
    action: str,
) -> ApprovalView:
    approval = await repository.get_approval(session, approval_id)
    if approval is None or approval.municipality_id != _municipality_of(actor):
        raise ApprovalNotFound()
    check_transition(APPROVAL_TRANSITIONS, approval.status, target)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(N_("Please give a reason; the provider will read it."))
    previous = approval.status
    await _move(
        session,
        approval,
        APPROVAL_TRANSITIONS,
        target,
        status_reason=reason,
        status_changed_at=utcnow(),
    )
    await audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="approval",
        entity_id=approval_id,
        municipality_id=approval.municipality_id,
        data={"from": previous, "to": target, "reason": reason},
    )
    return (await _approval_views(session, [approval], today()))[0]


async def suspend_approval(
    session: AsyncSession, *, actor: Actor, approval_id: int, reason: str
) -> ApprovalView:
    return await _move_approval(
        session, actor, approval_id, ApprovalStatus.SUSPENDED, reason, "approval.suspended"
    )


async def reinstate_approval(
    session: AsyncSession, *, actor: Actor, approval_id: int, reason: str
) -> ApprovalView:
    return await _move_approval(
        session, actor, approval_id, ApprovalStatus.ACTIVE, reason, "approval.reinstated"
    )


async def revoke_approval(
    session: AsyncSession, *, actor: Actor, approval_id: int, reason: str
) -> ApprovalView:
    return await _move_approval(
        session, actor, approval_id, ApprovalStatus.REVOKED, reason, "approval.revoked"
    )


# --- contract terms, versioned ------------------------------------------------
# DESIGN.md: the terms belong to one approval and are versioned; a later version
# starts on the first of a month, so one version governs each settlement month.

BP_WHOLE = 10_000

# One whole sentence per rate, so each reads right once translated.
_BP_RANGE_SENTENCES: dict[str, str] = {
    "shortfall_rate_bp": N_("The shortfall rate must be between 0 % and 100 %."),
    "rebate_bp": N_("The volume rebate must be between 0 % and 100 %."),
    "on_time_target_bp": N_("The on-time target must be between 0 % and 100 %."),
    "malus_bp_per_point": N_("The malus per point must be between 0 % and 100 %."),
    "malus_cap_bp": N_("The malus cap must be between 0 % and 100 %."),
    "bonus_threshold_bp": N_("The bonus threshold must be between 0 % and 100 %."),
    "bonus_bp": N_("The SLA bonus must be between 0 % and 100 %."),
    "citizen_absent_share_bp": N_(
        "The share paid when the citizen is absent must be between 0 % and 100 %."
    ),
    "late_cancel_share_bp": N_(
        "The share paid for a late cancellation must be between 0 % and 100 %."
    ),
}


@dataclass
class TermsHistory:
    """An approval's contract terms: every version and the one in force today."""

    approval: Approval
    provider: Provider
    versions: list[ContractTerms]
    in_force: ContractTerms | None
    today: date

    @property
    def latest(self) -> ContractTerms | None:
        return self.versions[-1] if self.versions else None


def _check_terms(values: dict[str, int | None]) -> None:
    """Every rule of a terms version that does not need the database."""
    if (values["unit_price_ore"] or 0) <= 0:
        raise InvalidInput(N_("The unit price must be more than 0 kroner."))
    if (values["min_units_per_month"] or 0) < 0:
        raise InvalidInput(N_("The minimum number of units per month cannot be negative."))
    threshold = values["rebate_threshold_units"]
    if threshold is not None and threshold < 0:
        raise InvalidInput(N_("The rebate threshold cannot be a negative number of units."))
    for name, sentence in _BP_RANGE_SENTENCES.items():
        value = values[name]
        if value is not None and not 0 <= value <= BP_WHOLE:
            raise InvalidInput(sentence)
    if (values["rebate_bp"] or 0) > 0 and threshold is None:
        raise InvalidInput(
            N_("A volume rebate needs a threshold: the number of units above which it applies.")
        )
    if (values["shortfall_rate_bp"] or 0) > 0 and not values["min_units_per_month"]:
        raise InvalidInput(
            N_("A shortfall rate needs a minimum number of units per month to fall short of.")
        )
    if (values["malus_bp_per_point"] or 0) > 0:
        if not values["on_time_target_bp"]:
            raise InvalidInput(N_("An SLA malus needs an on-time target above 0 %."))
        if not values["malus_cap_bp"]:
            raise InvalidInput(
                N_("Give the SLA malus a cap above 0 %; with a cap of 0 % nothing is deducted.")
            )
    bonus_threshold = values["bonus_threshold_bp"]
    if (values["bonus_bp"] or 0) > 0 and bonus_threshold is None:
        raise InvalidInput(
            N_("An SLA bonus needs a threshold: the on-time rate from which it is paid.")
        )
    if bonus_threshold is not None and bonus_threshold < (values["on_time_target_bp"] or 0):
        raise InvalidInput(
            N_(
                "The bonus threshold cannot be below the on-time target: a month "
                "would earn a malus and a bonus at once."
            )
        )


async def _terms_approval(session: AsyncSession, actor: Actor, approval_id: int) -> Approval:
    if not actor.can(Permission.CONTRACT_TERMS_MANAGE):
        raise PermissionDenied(N_("You may not see or change contract terms."))
    approval = await repository.get_approval(session, approval_id)
    if approval is None or approval.municipality_id != _municipality_of(actor):
        raise ApprovalNotFound()
    return approval


async def contract_terms_history(
    session: AsyncSession, *, actor: Actor, approval_id: int
) -> TermsHistory:
    """The versions of an approval's terms, for the admin of its municipality."""
    approval = await _terms_approval(session, actor, approval_id)
    provider = await repository.get_provider(session, approval.provider_id)
    if provider is None:
        raise ProviderNotFound()
    versions = list(await repository.terms_versions(session, approval_id))
    on = today()
    in_force = await repository.terms_in_force(session, approval_id, on)
    return TermsHistory(approval, provider, versions, in_force, on)


async def add_contract_terms(
    session: AsyncSession,
    *,
    actor: Actor,
    approval_id: int,
    valid_from: date,
    unit_price_ore: int,
    min_units_per_month: int = 0,
    shortfall_rate_bp: int = 0,
    rebate_threshold_units: int | None = None,
    rebate_bp: int = 0,
    on_time_target_bp: int = 0,
    malus_bp_per_point: int = 0,
    malus_cap_bp: int = 0,
    bonus_threshold_bp: int | None = None,
    bonus_bp: int = 0,
    citizen_absent_share_bp: int = 0,
    late_cancel_share_bp: int = 0,
    note: str = "",
    vat_category: str = "E",
    vat_rate_bp: int = 0,
    vat_exemption_reason: str = "",
) -> ContractTerms:
    """Adds the next version of an approval's contract terms. It starts on the
    first of a month after the latest version's start, within the approval's
    validity and not in the past: orders already placed keep the price they
    copied, and a settled month keeps the terms it was settled under."""
    await _terms_approval(session, actor, approval_id)
    # Locked, so two admins adding a version at once get versions n and n + 1.
    approval = await repository.lock_approval(session, approval_id)
    if approval is None:
        raise ApprovalNotFound()
    if approval.status in (ApprovalStatus.REVOKED, ApprovalStatus.REPLACED):
        raise Conflict(
            N_("The contract terms of an approval that is revoked or replaced cannot change.")
        )
    values: dict[str, int | None] = {
        "unit_price_ore": unit_price_ore,
        "min_units_per_month": min_units_per_month,
        "shortfall_rate_bp": shortfall_rate_bp,
        "rebate_threshold_units": rebate_threshold_units,
        "rebate_bp": rebate_bp,
        "on_time_target_bp": on_time_target_bp,
        "malus_bp_per_point": malus_bp_per_point,
        "malus_cap_bp": malus_cap_bp,
        "bonus_threshold_bp": bonus_threshold_bp,
        "bonus_bp": bonus_bp,
        "citizen_absent_share_bp": citizen_absent_share_bp,
        "late_cancel_share_bp": late_cancel_share_bp,
    }
    _check_terms(values)
    versions = await repository.terms_versions(session, approval_id)
    latest = versions[-1] if versions else None
    if latest is not None:
        if valid_from.day != 1:
            raise InvalidInput(
                N_(
                    "A new version of the terms must start on the first day of a month, "
                    "so one version governs each settlement month."
                )
            )
        if valid_from <= latest.valid_from:
            raise InvalidInput(
                N_("A new version must start after version {version}, which starts {day}."),
                version=latest.version,
                day=latest.valid_from.isoformat(),
            )
    if not approval.valid_from <= valid_from <= approval.valid_to:
        raise InvalidInput(
            N_("The terms must start within the approval's validity, {start} to {end}."),
            start=approval.valid_from.isoformat(),
            end=approval.valid_to.isoformat(),
        )
    if latest is not None and valid_from < today():
        raise InvalidInput(
            N_(
                "A new version cannot start in the past: past months are settled under "
                "the terms that were in force."
            )
        )
    note = (note or "").strip()
    if len(note) > 2000:
        raise InvalidInput(N_("The note is too long: at most 2000 characters."))
    vat = _check_vat(vat_category, vat_rate_bp, vat_exemption_reason)
    terms = await repository.add(
        session,
        ContractTerms(
            approval_id=approval_id,
            version=(latest.version if latest else 0) + 1,
            valid_from=valid_from,
            note=note,
            created_by_user_id=actor.user_id,
            **values,
            **vat,
        ),
    )
    assert terms.id is not None
    await audit.record(
        session,
        actor=actor,
        action="contract_terms.added",
        entity_type="approval",
        entity_id=approval_id,
        municipality_id=approval.municipality_id,
        data={
            "terms_id": terms.id,
            "version": terms.version,
            "valid_from": valid_from,
            **values,
            **vat,
            "note": note,
        },
    )
    return terms


def _check_vat(category: str, rate_bp: int, reason: str) -> dict[str, str | int]:
    """The e-invoice's VAT (UNCL5305): S with a rate, Z at 0, or E at 0 with
    its legal ground (empty: the standard Danish welfare exemption text)."""
    category = (category or "").strip().upper()
    if category not in ("S", "Z", "E"):
        raise InvalidInput(
            N_(
                "Choose VAT category S (standard rate), Z (zero rate) or E (exempt, "
                "with the legal ground)."
            )
        )
    if category == "S" and not 0 < rate_bp <= 10_000:
        raise InvalidInput(N_("A standard-rated VAT category needs a rate above 0 %."))
    reason = " ".join((reason or "").split())
    if len(reason) > 500:
        raise InvalidInput(N_("The VAT exemption reason is too long: at most 500 characters."))
    return {
        "vat_category": category,
        "vat_rate_bp": rate_bp if category == "S" else 0,
        "vat_exemption_reason": reason if category == "E" else "",
    }


@dataclass
class MunicipalityOffer:
    """A municipality a provider may apply to, with its current standard."""

    municipality: Municipality
    standard: QualityStandard | None
    open_application: Application | None


@dataclass
class PortalView:
    provider: Provider
    municipalities: list[MunicipalityOffer]
    applications: list[tuple[Application, str]]
    approvals: list[ApprovalView]
    today: date


async def portal(session: AsyncSession, *, actor: Actor) -> PortalView:
    provider = await own_provider(session, actor=actor)
    assert provider.id is not None
    published = {
        s.municipality_id: s
        for s in await repository.published_standards(session)
        if s.service == DEFAULT_SERVICE
    }
    applications = list(await repository.applications_of_provider(session, provider.id))
    names = await repository.municipality_names(session)
    open_by_municipality = {
        a.municipality_id: a
        for a in applications
        if a.status in (ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED)
    }
    offers = [
        MunicipalityOffer(
            municipality=m,
            standard=published.get(m.id or 0),
            open_application=open_by_municipality.get(m.id or 0),
        )
        for m in await repository.list_municipalities(session)
    ]
    on = today()
    approvals = await _approval_views(
        session, await repository.approvals_of_provider(session, provider.id), on
    )
    return PortalView(
        provider=provider,
        municipalities=offers,
        applications=[(a, names.get(a.municipality_id, "")) for a in applications],
        approvals=approvals,
        today=on,
    )


@dataclass
class DirectoryRow:
    provider: Provider
    approvals: list[ApprovalView]
    applications: list[Application] = field(default_factory=list)


async def provider_directory(session: AsyncSession, *, actor: Actor) -> list[DirectoryRow]:
    """Providers with an approval or application in the actor's municipality."""
    municipality_id = _municipality_of(actor)
    providers = await repository.providers_in_municipality(session, municipality_id)
    views = await _approval_views(
        session, await repository.approvals_in_municipality(session, municipality_id), today()
    )
    applications = await repository.applications_in_municipality(session, municipality_id)
    rows = []
    for provider in providers:
        rows.append(
            DirectoryRow(
                provider=provider,
                approvals=[v for v in views if v.approval.provider_id == provider.id],
                applications=[
                    a
                    for a in applications
                    if a.provider_id == provider.id and a.status != ApplicationStatus.DRAFT
                ],
            )
        )
    return rows


async def provider_detail(session: AsyncSession, *, actor: Actor, provider_id: int) -> DirectoryRow:
    municipality_id = _municipality_of(actor)
    if not await repository.provider_in_municipality(session, provider_id, municipality_id):
        raise ProviderNotFound()
    provider = await repository.get_provider(session, provider_id)
    if provider is None:
        raise ProviderNotFound()
    views = await _approval_views(
        session,
        await repository.approvals_of_provider(session, provider_id, municipality_id),
        today(),
    )
    applications = [
        a
        for a in await repository.applications_of_provider(session, provider_id)
        if a.municipality_id == municipality_id and a.status != ApplicationStatus.DRAFT
    ]
    return DirectoryRow(provider=provider, approvals=views, applications=applications)


async def list_approvals(session: AsyncSession, *, actor: Actor) -> list[ApprovalView]:
    """The provider's own approvals, or those of the actor's municipality."""
    if actor.provider_id is not None:
        approvals = await repository.approvals_of_provider(session, actor.provider_id)
    else:
        approvals = await repository.approvals_in_municipality(session, _municipality_of(actor))
    return await _approval_views(session, approvals, today())


async def list_applications(session: AsyncSession, *, actor: Actor) -> list[QueueEntry]:
    """The provider's own applications, or the municipality's review queue."""
    if actor.provider_id is not None:
        provider = await own_provider(session, actor=actor)
        return [
            QueueEntry(application=a, provider=provider)
            for a in await repository.applications_of_provider(session, _provider_of(actor))
        ]
    return await review_queue(session, actor=actor)


# documents


@dataclass
class StoredDocument:
    upload: EvidenceUpload
    content: bytes


async def read_document(
    session: AsyncSession, *, actor: Actor, settings: Settings, upload_id: int
) -> StoredDocument:
    """The document, for the provider's own users and the staff of the
    municipality applied to; anybody else is told it does not exist."""
    upload = await repository.get_upload(session, upload_id)
    if upload is None:
        raise UploadNotFound()
    application = await repository.get_application(session, upload.application_id)
    if application is None or not _may_see_application(actor, application):
        raise UploadNotFound()
    path = Path(settings.upload_dir) / upload.storage_name
    try:
        content = await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError as exc:
        raise UploadNotFound() from exc
    return StoredDocument(upload=upload, content=content)


# --- offers (menus) and how a provider takes orders --------------------------

OFFER_PHOTO_DIR = "offer-photos"


@dataclass(frozen=True)
class Offering:
    """An offer as a citizen of one municipality may order it: with the approval
    it is sold under, the provider's ordering profile and the contract price."""

    offer: Offer
    provider: Provider
    approval: Approval
    profile: OrderingProfile
    postal_codes: list[str]
    unit_price_ore: int


async def offerings_for(
    session: AsyncSession, *, municipality_id: int, postal_code: str, on: date
) -> list[Offering]:
    """Offers of providers approved and active in the municipality on that day
    and delivering to the postal code (set-based: a handful of queries)."""
    approvals = [
        a
        for a in await repository.active_approvals(session, municipality_id, on)
        if is_active(a, on)
    ]
    ids = [a.id for a in approvals if a.id is not None]
    codes = await repository.postal_codes_of(session, ids)
    approvals = [a for a in approvals if postal_code in codes.get(a.id or 0, [])]
    terms = await repository.latest_terms_of(session, [a.id for a in approvals if a.id], on)
    by_provider = {a.provider_id: a for a in approvals if a.id in terms}
    provider_ids = list(by_provider)
    providers = await repository.providers_by_ids(session, provider_ids)
    profiles = await repository.ordering_profiles(session, provider_ids)
    offerings = []
    for offer in await repository.active_offers_of(session, provider_ids):
        approval = by_provider[offer.provider_id]
        if offer.service != approval.service:
            continue
        assert approval.id is not None
        offerings.append(
            Offering(
                offer=offer,
                provider=providers[offer.provider_id],
                approval=approval,
                profile=profiles.get(offer.provider_id)
                or OrderingProfile(provider_id=offer.provider_id),
                postal_codes=codes.get(approval.id, []),
                unit_price_ore=terms[approval.id].unit_price_ore,
            )
        )
    return offerings


async def offering(
    session: AsyncSession, *, offer_id: int, municipality_id: int, on: date
) -> Offering | None:
    """One offer as sold in the municipality, or None where it is not sold there."""
    offer = await repository.get_offer(session, offer_id)
    if offer is None or not offer.active:
        return None
    approval = await repository.standing_approval(
        session, offer.provider_id, municipality_id, offer.service
    )
    if approval is None or approval.id is None:
        return None
    terms = await repository.latest_terms_of(session, [approval.id], on)
    provider = await repository.get_provider(session, offer.provider_id)
    if approval.id not in terms or provider is None:
        return None
    profile = await repository.ordering_profile(session, offer.provider_id)
    codes = await repository.postal_codes_of(session, [approval.id])
    return Offering(
        offer=offer,
        provider=provider,
        approval=approval,
        profile=profile or OrderingProfile(provider_id=offer.provider_id),
        postal_codes=codes.get(approval.id, []),
        unit_price_ore=terms[approval.id].unit_price_ore,
    )


def _offer_fields(
    name: str,
    description: str,
    diet_forms: Sequence[str],
    allergens: Sequence[str],
    weekdays: Sequence[int],
    daily_capacity: int | None,
) -> dict[str, object]:
    name = _required(name, N_("Please give the meal a name."), 120)
    forms = sorted({DietForm(f).value for f in diet_forms if f} if diet_forms else set())
    if not forms:
        raise InvalidInput(N_("Say which diet forms the meal is made in."))
    days = sorted({int(d) for d in weekdays})
    if not days or any(d < 1 or d > 7 for d in days):
        raise InvalidInput(N_("Choose the weekdays the meal is offered."))
    if daily_capacity is not None and daily_capacity < 1:
        raise InvalidInput(N_("A daily capacity must be at least 1 meal."))
    return {
        "name": name,
        "description": description.strip()[:4000],
        "diet_forms": forms,
        "allergens": sorted({Allergen(a).value for a in allergens if a}),
        "weekdays": ",".join(str(d) for d in days),
        "daily_capacity": daily_capacity,
    }


def _photo_files(settings: Settings, photo: images.Photo) -> list[_PendingFile]:
    folder = Path(settings.upload_dir) / OFFER_PHOTO_DIR
    return [
        _PendingFile(path=folder / f"{secrets.token_urlsafe(24)}.webp", data=data)
        for data in (photo.full, photo.thumbnail)
    ]


def _remove_photo_files(settings: Settings, names: Sequence[str | None]) -> None:
    folder = Path(settings.upload_dir) / OFFER_PHOTO_DIR
    for name in names:
        if name:
            (folder / name).unlink(missing_ok=True)


async def save_offer(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    offer_id: int | None,
    name: str,
    description: str,
    diet_forms: Sequence[str],
    allergens: Sequence[str],
    weekdays: Sequence[int],
    daily_capacity: int | None,
    active: bool = True,
    photo: bytes | None = None,
) -> Offer:
    """Creates or changes an offer of the actor's own provider."""
    provider_id = _provider_of(actor)
    if not actor.can(Permission.OFFER_MANAGE):
        raise PermissionDenied(N_("Only a provider's administrator can change the menu."))
    try:
        values = _offer_fields(name, description, diet_forms, allergens, weekdays, daily_capacity)
    except ValueError as exc:
        raise InvalidInput(N_("Choose diet forms and allergens from the lists.")) from exc
    files: list[_PendingFile] = []
    if photo:
        # Decoding and re-encoding a camera photo takes seconds of CPU: not on the loop.
        processed = await asyncio.to_thread(
            images.process_photo, photo, max_bytes=settings.max_upload_bytes
        )
        files = _photo_files(settings, processed)
        values["photo_storage_name"], values["thumbnail_storage_name"] = (
            f.path.name for f in files
        )
    values["active"] = active
    replaced: list[str | None] = []
    if offer_id is None:
        offer = await repository.add(session, Offer(provider_id=provider_id, **values))
        action = "offer.created"
    else:
        found = await repository.get_offer(session, offer_id)
        if found is None or found.provider_id != provider_id:
            raise OfferNotFound()
        if files:
            replaced = [found.photo_storage_name, found.thumbnail_storage_name]
        for key, value in values.items():
            setattr(found, key, value)
        await repository.save(session, found)
        offer, action = found, "offer.changed"
    # Files only after every check and database write; the replaced photo's
    # files go once the new ones are in place.
    await _store_files(files)
    await asyncio.to_thread(_remove_photo_files, settings, replaced)
    await audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="offer",
        entity_id=offer.id or 0,
        municipality_id=None,
        data={k: v for k, v in values.items() if not k.endswith("storage_name")},
    )
    return offer


async def offers_of_own_provider(session: AsyncSession, *, actor: Actor) -> list[Offer]:
    return list(await repository.offers_of_provider(session, _provider_of(actor)))


async def own_offer(session: AsyncSession, *, actor: Actor, offer_id: int) -> Offer:
    """One meal of the actor's own menu; another provider's meal does not exist here."""
    offer = await repository.get_offer(session, offer_id)
    if offer is None or offer.provider_id != _provider_of(actor):
        raise OfferNotFound()
    return offer


async def get_offer_photo(
    session: AsyncSession, *, settings: Settings, offer_id: int, thumbnail: bool
) -> Path:
    """Menu photos are shown to anyone signed in: they are the provider's advertising."""
    offer = await repository.get_offer(session, offer_id)
    name = (
        None
        if offer is None
        else (offer.thumbnail_storage_name if thumbnail else offer.photo_storage_name)
    )
    if name is None:
        raise OfferNotFound()
    return Path(settings.upload_dir) / OFFER_PHOTO_DIR / name


WEBHOOK_ADDRESS_REFUSED = {
    "scheme": N_("The webhook address must start with https://."),
    "form": N_("The webhook address is not a valid web address (https://host/path)."),
    "private": N_(
        "The webhook address must be on the public internet: local, private and "
        "reserved network addresses are refused."
    ),
}


async def _check_webhook_url(url: str, settings: Settings) -> None:
    """Nothing calls an address a user typed without checking where it goes."""
    try:
        await guard.check_for_saving(
            url,
            allow_private=delivery.webhook_may_use_private_addresses(settings),
            allow_http=delivery.webhook_may_use_http(settings),
        )
    except guard.UnsafeAddress as exc:
        raise InvalidInput(WEBHOOK_ADDRESS_REFUSED[exc.reason]) from exc


async def own_ordering_profile(session: AsyncSession, *, actor: Actor) -> OrderingProfile:
    provider_id = _provider_of(actor)
    profile = await repository.ordering_profile(session, provider_id)
    return profile or OrderingProfile(provider_id=provider_id)


async def save_ordering_profile(
    session: AsyncSession,
    *,
    actor: Actor,
    cutoff_days_before: int,
    cutoff_time: time,
    window_start: time,
    window_end: time,
    accept_within_hours: int,
    auto_accept: bool,
    webhook_url: str | None,
    settings: Settings | None = None,
) -> OrderingProfile:
    provider_id = _provider_of(actor)
    if not actor.can(Permission.PROVIDER_PROFILE_EDIT):
        raise PermissionDenied(
            N_("Only a provider's administrator can change how orders are taken.")
        )
    if not 0 <= cutoff_days_before <= 7:
        raise InvalidInput(N_("The cut-off must be 0 to 7 days before delivery."))
    if window_end <= window_start:
        raise InvalidInput(N_("The delivery window must end after it starts."))
    if not 1 <= accept_within_hours <= 72:
        raise InvalidInput(N_("Orders must be accepted within 1 to 72 hours."))
    url = (webhook_url or "").strip() or None
    if url is not None:
        await _check_webhook_url(url, settings or get_settings())
    profile = await repository.ordering_profile(session, provider_id)
    if profile is None:
        profile = OrderingProfile(provider_id=provider_id)
    secret = profile.webhook_secret or (secrets.token_urlsafe(32) if url else None)
    for key, value in {
        "cutoff_days_before": cutoff_days_before,
        "cutoff_time": cutoff_time,
        "window_start": window_start,
        "window_end": window_end,
        "accept_within_hours": accept_within_hours,
        "auto_accept": auto_accept,
        "webhook_url": url,
        "webhook_secret": secret,
    }.items():
        setattr(profile, key, value)
    await repository.add(session, profile)
    await audit.record(
        session,
        actor=actor,
        action="ordering_profile.changed",
        entity_type="provider",
        entity_id=provider_id,
        municipality_id=None,
        data={
            "cutoff_days_before": cutoff_days_before,
            "cutoff_time": cutoff_time.isoformat(),
            "window": f"{window_start.isoformat()}-{window_end.isoformat()}",
            "accept_within_hours": accept_within_hours,
            "auto_accept": auto_accept,
            "webhook_url": url,
        },
    )
    return profile


async def rotate_webhook_secret(
    session: AsyncSession, *, actor: Actor, settings: Settings, now: datetime | None = None
) -> OrderingProfile:
    """A new signing secret. The old one keeps signing alongside it for the grace
    period, so the kitchen system can switch without refusing a message; a
    rotation during a grace period drops the oldest secret at once."""
    provider_id = _provider_of(actor)
    if not actor.can(Permission.PROVIDER_PROFILE_EDIT):
        raise PermissionDenied(N_("Only a provider's administrator can change the webhook secret."))
    profile = await repository.ordering_profile(session, provider_id)
    if profile is None or not profile.webhook_url or not profile.webhook_secret:
        raise Conflict(N_("There is no webhook address yet, so there is no secret to change."))
    now = now or utcnow()
    until = now + timedelta(hours=settings.webhook_secret_grace_hours)
    profile.webhook_previous_secret = profile.webhook_secret
    profile.webhook_previous_secret_until = until
    profile.webhook_secret = secrets.token_urlsafe(32)
    await repository.add(session, profile)
    await audit.record(
        session,
        actor=actor,
        action="ordering_profile.webhook_secret_rotated",
        entity_type="provider",
        entity_id=provider_id,
        municipality_id=None,
        data={"previous_signs_until": until.isoformat()},  # never the secrets themselves
    )
    return profile


# --- for the ordering pages (added by the orders engineer) ---------------------


async def offers_and_providers(
    session: AsyncSession, *, offer_ids: list[int]
) -> tuple[dict[int, Offer], dict[int, Provider]]:
    """Offers by id and their providers, for listing a citizen's orders by name."""
    offers: dict[int, Offer] = {}
    for offer_id in sorted(set(offer_ids)):
        offer = await repository.get_offer(session, offer_id)
        if offer is not None:
            offers[offer_id] = offer
    providers = await repository.providers_by_ids(
        session, sorted({o.provider_id for o in offers.values()})
    )
    return offers, providers


# --- for the order flow: a provider's ordering profile by id -----------------


async def ordering_profile_of(session: AsyncSession, *, provider_id: int) -> OrderingProfile | None:
    """The profile (webhook address and secret) of the provider an order is for."""
    return await repository.ordering_profile(session, provider_id)
