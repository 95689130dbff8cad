"""Approvals: granting one from a reviewed application, its lifecycle
(suspend, reinstate, revoke, replaced by a later approval), its status on a
day, and its versioned contract terms (the value object and its rules are in
``providers.approvals.terms``)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.auth.permissions import Actor, Permission
from market.clock import today
from market.db import utcnow
from market.errors import (
    N_,
    Conflict,
    InvalidInput,
    PermissionDenied,
)
from market.municipalities import service as municipalities
from providers import repository as rows
from providers.applications.service import (
    ApplicationView,
    load_application_view,
    reviewable,
)
from providers.approvals import repository
from providers.approvals.terms import ContractTerms, Vat
from providers.common import (
    municipality_of,
    parse_unit_price,
    split_postal_codes,
)
from providers.exceptions import (
    ApprovalNotFound,
    ProviderNotFound,
)
from providers.lifecycle import (
    APPLICATION_TRANSITIONS,
    APPROVAL_TRANSITIONS,
    check_transition,
    move,
)
from providers.models import (
    Application,
    ApplicationStatus,
    Approval,
    ApprovalStatus,
    ContractTermsVersion,
    Provider,
)
from providers.registry import repository as registry_repository
from providers.schemas import (
    ApprovalIn,
)


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
) -> ContractTermsVersion | None:
    return await terms_in_force(session, approval_id=approval_id, on=on)


async def terms_in_force(
    session: AsyncSession, *, approval_id: int, on: date
) -> ContractTermsVersion | None:
    """The contract terms version in force on the day: the one with the latest
    start on or before it (None before the first version starts)."""
    return await repository.terms_in_force(session, approval_id, on)


@dataclass
class ApprovalView:
    approval: Approval
    provider: Provider
    municipality_name: str
    effective_status: EffectiveStatus
    postal_codes: list[str]
    terms: ContractTermsVersion | None


async def approval_views(
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
    providers = await registry_repository.providers_by_ids(
        session, sorted({a.provider_id for a in approvals})
    )
    names = await registry_repository.municipality_names(session) if approvals else {}
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
    application = await reviewable(session, actor, application_id)
    check_transition(APPLICATION_TRANSITIONS, application.status, ApplicationStatus.APPROVED)
    view = await load_application_view(session, application)
    _check_mandatory_met(view)
    grant = await _checked_grant(session, application, terms)
    # Claimed first: of two reviewers approving at once, the second stops here.
    await move(
        session,
        application,
        APPLICATION_TRANSITIONS,
        ApplicationStatus.APPROVED,
        decided_at=utcnow(),
        decided_by_user_id=actor.user_id,
    )
    standing = await _replace_standing(session, application, view.standard.service)
    approval = await _add_approval(session, actor, application, view.standard.service, grant)
    await audit.record(
        session,
        actor=actor,
        action="approval.granted",
        entity_type="approval",
        entity_id=approval.id or 0,
        municipality_id=application.municipality_id,
        data={
            "application_id": application.id,
            "provider_id": application.provider_id,
            "valid_from": grant.valid_from,
            "valid_to": grant.valid_to,
            "service_area": grant.postal_codes,
            "daily_capacity": grant.daily_capacity,
            "unit_price_ore": grant.unit_price_ore,
            "replaced_approval_id": standing.id if standing else None,
        },
    )
    return (await approval_views(session, [approval], today()))[0]


def _check_mandatory_met(view: ApplicationView) -> None:
    """Every mandatory requirement decided, and decided met."""
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


@dataclass(frozen=True)
class _Grant:
    """What the reviewer grants, checked."""

    valid_from: date
    valid_to: date
    daily_capacity: int
    unit_price_ore: int
    postal_codes: list[str]


async def _checked_grant(
    session: AsyncSession, application: Application, terms: ApprovalIn
) -> _Grant:
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
    return _Grant(
        valid_from=terms.valid_from,
        valid_to=terms.valid_to,
        daily_capacity=terms.daily_capacity,
        unit_price_ore=unit_price_ore,
        postal_codes=codes,
    )


async def _replace_standing(
    session: AsyncSession, application: Application, service: str
) -> Approval | None:
    """The provider's standing approval for the same municipality and service
    is replaced by the new one (returned, or None when there was none)."""
    standing = await repository.standing_approval(
        session, application.provider_id, application.municipality_id, service
    )
    if standing is not None:
        await move(
            session,
            standing,
            APPROVAL_TRANSITIONS,
            ApprovalStatus.REPLACED,
            status_changed_at=utcnow(),
            status_reason=f"replaced by the approval of application {application.id}",
        )
    return standing


async def _add_approval(
    session: AsyncSession, actor: Actor, application: Application, service: str, grant: _Grant
) -> Approval:
    """The approval, its service area and version 1 of its contract terms."""
    assert application.id is not None
    approval = await rows.add(
        session,
        Approval(
            provider_id=application.provider_id,
            municipality_id=application.municipality_id,
            service=service,
            application_id=application.id,
            standard_id=application.standard_id,
            valid_from=grant.valid_from,
            valid_to=grant.valid_to,
            daily_capacity=grant.daily_capacity,
            approved_by_user_id=actor.user_id,
        ),
    )
    assert approval.id is not None
    await repository.add_postal_codes(session, approval.id, grant.postal_codes)
    await rows.add(
        session,
        ContractTermsVersion(
            approval_id=approval.id,
            version=1,
            unit_price_ore=grant.unit_price_ore,
            valid_from=grant.valid_from,
            created_by_user_id=actor.user_id,
        ),
    )
    return approval


async def _move_approval(
    session: AsyncSession,
    actor: Actor,
    approval_id: int,
    target: ApprovalStatus,
    reason: str,
    action: str,
) -> ApprovalView:
    approval = await repository.get_approval(session, approval_id)
    if approval is None or approval.municipality_id != municipality_of(actor):
        raise ApprovalNotFound()
    check_transition(APPROVAL_TRANSITIONS, approval.status, target)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(N_("Please give a reason; the provider will read it."))
    previous = approval.status
    await move(
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
    return (await approval_views(session, [approval], today()))[0]


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


@dataclass
class TermsHistory:
    """An approval's contract terms: every version and the one in force today."""

    approval: Approval
    provider: Provider
    versions: list[ContractTermsVersion]
    in_force: ContractTermsVersion | None
    today: date

    @property
    def latest(self) -> ContractTermsVersion | None:
        return self.versions[-1] if self.versions else None


async def _terms_approval(session: AsyncSession, actor: Actor, approval_id: int) -> Approval:
    if not actor.can(Permission.CONTRACT_TERMS_MANAGE):
        raise PermissionDenied(N_("You may not see or change contract terms."))
    approval = await repository.get_approval(session, approval_id)
    if approval is None or approval.municipality_id != municipality_of(actor):
        raise ApprovalNotFound()
    return approval


async def contract_terms_history(
    session: AsyncSession, *, actor: Actor, approval_id: int
) -> TermsHistory:
    """The versions of an approval's terms, for the admin of its municipality."""
    approval = await _terms_approval(session, actor, approval_id)
    provider = await registry_repository.get_provider(session, approval.provider_id)
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
) -> ContractTermsVersion:
    """Adds the next version of an approval's contract terms. It starts on the
    first of a month after the latest version's start, within the approval's
    validity and not in the past: orders already placed keep the price they
    copied, and a settled month keeps the terms it was settled under."""
    approval = await _lock_changeable_approval(session, actor, approval_id)
    terms = ContractTerms(
        unit_price_ore=unit_price_ore,
        min_units_per_month=min_units_per_month,
        shortfall_rate_bp=shortfall_rate_bp,
        rebate_threshold_units=rebate_threshold_units,
        rebate_bp=rebate_bp,
        on_time_target_bp=on_time_target_bp,
        malus_bp_per_point=malus_bp_per_point,
        malus_cap_bp=malus_cap_bp,
        bonus_threshold_bp=bonus_threshold_bp,
        bonus_bp=bonus_bp,
        citizen_absent_share_bp=citizen_absent_share_bp,
        late_cancel_share_bp=late_cancel_share_bp,
    )
    terms.check_coherent()
    versions = await repository.terms_versions(session, approval_id)
    latest = versions[-1] if versions else None
    _check_start(approval, latest, valid_from)
    note = _checked_note(note)
    vat = Vat.checked(vat_category, vat_rate_bp, vat_exemption_reason)
    row = await rows.add(
        session,
        ContractTermsVersion(
            approval_id=approval_id,
            version=(latest.version if latest else 0) + 1,
            valid_from=valid_from,
            note=note,
            created_by_user_id=actor.user_id,
            **terms.as_dict(),
            **vat.as_dict(),
        ),
    )
    assert row.id is not None
    await audit.record(
        session,
        actor=actor,
        action="contract_terms.added",
        entity_type="approval",
        entity_id=approval_id,
        municipality_id=approval.municipality_id,
        data={
            "terms_id": row.id,
            "version": row.version,
            "valid_from": valid_from,
            **terms.as_dict(),
            **vat.as_dict(),
            "note": note,
        },
    )
    return row


async def _lock_changeable_approval(
    session: AsyncSession, actor: Actor, approval_id: int
) -> Approval:
    await _terms_approval(session, actor, approval_id)
    # Locked, so two admins adding a version at once get versions n and n + 1.
    approval = await repository.lock_approval(session, approval_id)
    if approval is None:
        raise ApprovalNotFound()
    if approval.status in (ApprovalStatus.REVOKED, ApprovalStatus.REPLACED):
        raise Conflict(
            N_("The contract terms of an approval that is revoked or replaced cannot change.")
        )
    return approval


def _check_start(approval: Approval, latest: ContractTermsVersion | None, valid_from: date) -> None:
    """A later version starts on the first of a month after the latest one's
    start and not in the past; every version starts within the approval."""
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


def _checked_note(note: str) -> str:
    note = (note or "").strip()
    if len(note) > 2000:
        raise InvalidInput(N_("The note is too long: at most 2000 characters."))
    return note


async def list_approvals(session: AsyncSession, *, actor: Actor) -> list[ApprovalView]:
    """The provider's own approvals, or those of the actor's municipality."""
    if actor.provider_id is not None:
        approvals = await repository.approvals_of_provider(session, actor.provider_id)
    else:
        approvals = await repository.approvals_in_municipality(session, municipality_of(actor))
    return await approval_views(session, approvals, today())
