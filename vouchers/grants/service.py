"""Assessments (grants) and their lifecycle (active → superseded, revoked or
expired, checked by ``market.lifecycle``), co-payment caps, the weekly closing job
and the citizen's own view of their voucher."""

import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped

from market.audit import service as audit
from market.auth.permissions import Actor
from market.clock import today as today_in_copenhagen
from market.db import utcnow
from market.dietary import DietForm
from market.errors import N_, InvalidInput
from market.lifecycle import check_transition
from market.money import format_kroner
from vouchers.citizens import repository as citizens_repository
from vouchers.citizens.service import checked_allergens, citizen_for_staff, own_citizen
from vouchers.exceptions import (
    BadInput,
    CapMissing,
    CitizenNotFound,
    CopaymentOverCap,
    GrantNotFound,
    GrantTransitionRefused,
)
from vouchers.grants import repository
from vouchers.ledger import repository as ledger_repository
from vouchers.ledger.service import close_after_end, expire_week, issue_units, load_grant
from vouchers.ledger.weeks import (
    grant_allotment,
    iso_week_of,
    week_monday,
    week_number,
    weeks_between,
)
from vouchers.models import (
    AccountKind,
    Citizen,
    CopaymentCap,
    GrantStatus,
    VoucherGrant,
)
from vouchers.schemas import GrantTerms

MAX_UNITS_PER_WEEK = 50

# --- caps ----------------------------------------------------------------------


async def set_copayment_cap(
    session: AsyncSession, *, actor: Actor | None, municipality_id: int, year: int, cap_ore: int
) -> CopaymentCap:
    if actor is not None and actor.municipality_id not in (None, municipality_id):
        raise CitizenNotFound()
    if cap_ore < 0 or not 2000 <= year <= 2100:
        raise BadInput(N_("A cap needs a year and an amount of 0 kr. or more."))
    cap = await repository.put_cap(session, municipality_id, year, cap_ore)
    await audit.record(
        session,
        actor=actor,
        action="copayment_cap.set",
        entity_type="copayment_cap",
        entity_id=f"{municipality_id}:{year}",
        municipality_id=municipality_id,
        data={"year": year, "cap_ore": cap_ore},
    )
    return cap


async def copayment_caps(session: AsyncSession, *, actor: Actor) -> list[CopaymentCap]:
    if actor.municipality_id is None:
        return []
    return list(await repository.list_caps(session, actor.municipality_id))


async def set_own_copayment_cap(
    session: AsyncSession, *, actor: Actor, year: int, cap_ore: int
) -> CopaymentCap:
    """A municipal admin sets the cap of their own municipality for a year."""
    if actor.municipality_id is None:
        raise CitizenNotFound()
    return await set_copayment_cap(
        session, actor=actor, municipality_id=actor.municipality_id, year=year, cap_ore=cap_ore
    )


async def _check_cap(
    session: AsyncSession, *, municipality_id: int, copayment_ore: int, year: int
) -> None:
    cap = await repository.get_cap(session, municipality_id, year)
    if cap is None:
        raise CapMissing(year)
    if copayment_ore > cap.cap_ore:
        raise CopaymentOverCap(format_kroner(copayment_ore), format_kroner(cap.cap_ore), year)


# --- grants ------------------------------------------------------------------

GRANT_TRANSITIONS: dict[GrantStatus, frozenset[GrantStatus]] = {
    GrantStatus.ACTIVE: frozenset(
        {GrantStatus.SUPERSEDED, GrantStatus.REVOKED, GrantStatus.EXPIRED}
    ),
    GrantStatus.SUPERSEDED: frozenset(),
    GrantStatus.REVOKED: frozenset(),
    GrantStatus.EXPIRED: frozenset(),
}


def _grant_refused(current: GrantStatus, wanted: GrantStatus) -> GrantTransitionRefused:
    return GrantTransitionRefused(current.value, wanted.value)


def check_grant_transition(current: GrantStatus, wanted: GrantStatus) -> None:
    """The grant lifecycle through the one lifecycle check (``market.lifecycle``)."""
    check_transition(GRANT_TRANSITIONS, current, wanted, _grant_refused)


async def _validate_terms(
    session: AsyncSession, *, municipality_id: int, terms: GrantTerms
) -> list[str]:
    if terms.units_per_week <= 0:
        raise BadInput(N_("Units per week must be at least 1."))
    if terms.units_per_week > MAX_UNITS_PER_WEEK:
        raise BadInput(N_("Units per week can be at most {most}."), most=MAX_UNITS_PER_WEEK)
    if terms.valid_to < terms.valid_from:
        raise BadInput(N_("The voucher must end on or after the day it starts."))
    if terms.reassess_on is not None and terms.reassess_on < terms.valid_from:
        raise BadInput(N_("The reassessment date must be on or after the day the voucher starts."))
    if terms.copayment_ore < 0:
        raise BadInput(N_("The co-payment cannot be negative."))
    await _check_cap(
        session,
        municipality_id=municipality_id,
        copayment_ore=terms.copayment_ore,
        year=terms.valid_from.year,
    )
    return checked_allergens(terms.allergies)


async def _add_grant(
    session: AsyncSession,
    *,
    actor: Actor,
    citizen: Citizen,
    terms: GrantTerms,
    allergies: list[str],
    supersedes_id: int | None = None,
) -> VoucherGrant:
    assert citizen.id is not None
    grant = await citizens_repository.add(
        session,
        VoucherGrant(
            municipality_id=citizen.municipality_id,
            citizen_id=citizen.id,
            service=terms.service,
            units_per_week=terms.units_per_week,
            diet_form=DietForm(terms.diet_form),
            allergies=allergies,
            valid_from=terms.valid_from,
            valid_to=terms.valid_to,
            reassess_on=terms.reassess_on,
            copayment_ore=terms.copayment_ore,
            rollover=terms.rollover,
            supersedes_id=supersedes_id,
            created_by_user_id=actor.user_id,
        ),
    )
    await issue_units(session, grant=grant, actor_user_id=actor.user_id)
    return grant


def _grant_audit(grant: VoucherGrant) -> dict[str, object]:
    return {
        "citizen_id": grant.citizen_id,
        "service": grant.service,
        "units_per_week": grant.units_per_week,
        "diet_form": grant.diet_form,
        "allergies": list(grant.allergies),
        "valid_from": grant.valid_from,
        "valid_to": grant.valid_to,
        "reassess_on": grant.reassess_on,
        "copayment_ore": grant.copayment_ore,
        "rollover": grant.rollover,
        "supersedes_id": grant.supersedes_id,
    }


async def grant_voucher(
    session: AsyncSession, *, actor: Actor, citizen_id: int, terms: GrantTerms
) -> VoucherGrant:
    """Records an assessment that grants a voucher."""
    citizen = await citizen_for_staff(session, actor, citizen_id)
    allergies = await _validate_terms(session, municipality_id=citizen.municipality_id, terms=terms)
    overlapping = await repository.active_grants_overlapping(
        session, citizen_id, terms.service.value, terms.valid_from, terms.valid_to
    )
    if overlapping:
        raise InvalidInput(
            N_(
                "The citizen already has an active voucher for this service in that period. "
                "Change it instead (a new assessment that supersedes it)."
            )
        )
    grant = await _add_grant(
        session, actor=actor, citizen=citizen, terms=terms, allergies=allergies
    )
    assert grant.id is not None
    await audit.record(
        session,
        actor=dataclasses.replace(actor, on_behalf_of_user_id=citizen.user_id),
        action="grant.created",
        entity_type="grant",
        entity_id=grant.id,
        municipality_id=grant.municipality_id,
        data=_grant_audit(grant),
    )
    return grant


async def _grant_for_staff(
    session: AsyncSession, actor: Actor, grant_id: int
) -> tuple[VoucherGrant, Citizen]:
    grant = await repository.get_grant_for_update(session, grant_id)
    if grant is None or actor.municipality_id != grant.municipality_id:
        raise GrantNotFound()
    citizen = await citizens_repository.get_citizen(session, grant.citizen_id)
    assert citizen is not None
    return grant, citizen


async def supersede_grant(
    session: AsyncSession, *, actor: Actor, grant_id: int, terms: GrantTerms
) -> VoucherGrant:
    """A new assessment replaces a grant from ``terms.valid_from``: the old one
    ends the day before, and what it had reserved after that is released."""
    old, citizen = await _grant_for_staff(session, actor, grant_id)
    check_grant_transition(old.status, GrantStatus.SUPERSEDED)
    if not old.valid_from < terms.valid_from <= old.valid_to:
        raise BadInput(
            N_("The new voucher must start after {start} and no later than {end}."),
            start=old.valid_from.isoformat(),
            end=old.valid_to.isoformat(),
        )
    terms = dataclasses.replace(terms, service=old.service)
    allergies = await _validate_terms(session, municipality_id=old.municipality_id, terms=terms)
    old.status = GrantStatus.SUPERSEDED
    old.valid_to = terms.valid_from - timedelta(days=1)
    old.ended_at = utcnow()
    old.ended_reason = "superseded"
    await citizens_repository.flush(session)
    await close_after_end(session, grant=old, actor=actor)
    assert old.id is not None
    new = await _add_grant(
        session,
        actor=actor,
        citizen=citizen,
        terms=terms,
        allergies=allergies,
        supersedes_id=old.id,
    )
    assert new.id is not None
    acting = dataclasses.replace(actor, on_behalf_of_user_id=citizen.user_id)
    await audit.record(
        session,
        actor=acting,
        action="grant.superseded",
        entity_type="grant",
        entity_id=old.id,
        municipality_id=old.municipality_id,
        data={"superseded_by": new.id, "valid_to": old.valid_to},
    )
    await audit.record(
        session,
        actor=acting,
        action="grant.created",
        entity_type="grant",
        entity_id=new.id,
        municipality_id=new.municipality_id,
        data=_grant_audit(new),
    )
    return new


async def revoke_grant(
    session: AsyncSession,
    *,
    actor: Actor,
    grant_id: int,
    reason: str,
    ends_on: date | None = None,
) -> VoucherGrant:
    """Ends a grant early (by default today is its last day); units reserved
    for days after its end are released and expire."""
    grant, citizen = await _grant_for_staff(session, actor, grant_id)
    check_grant_transition(grant.status, GrantStatus.REVOKED)
    if not reason.strip():
        raise BadInput(N_("Please give a reason for revoking the voucher."))
    last_day = ends_on or today_in_copenhagen()
    if last_day > grant.valid_to:
        raise BadInput(
            N_("The voucher already ends on {end}; it cannot be revoked from a later day."),
            end=grant.valid_to.isoformat(),
        )
    grant.status = GrantStatus.REVOKED
    grant.valid_to = max(last_day, grant.valid_from - timedelta(days=1))
    grant.ended_at = utcnow()
    grant.ended_reason = reason.strip()[:500]
    await citizens_repository.flush(session)
    await close_after_end(session, grant=grant, actor=actor)
    assert grant.id is not None
    await audit.record(
        session,
        actor=dataclasses.replace(actor, on_behalf_of_user_id=citizen.user_id),
        action="grant.revoked",
        entity_type="grant",
        entity_id=grant.id,
        municipality_id=grant.municipality_id,
        data={"reason": grant.ended_reason, "valid_to": grant.valid_to},
    )
    return grant


async def expire_grant(
    session: AsyncSession, *, grant_id: int, actor: Actor | None = None, today: date | None = None
) -> VoucherGrant:
    """A grant whose last day has passed becomes expired; its weeks are closed."""
    grant = await load_grant(session, grant_id, lock=True)
    check_grant_transition(grant.status, GrantStatus.EXPIRED)
    if grant.valid_to >= (today or today_in_copenhagen()):
        raise BadInput(
            N_("The voucher is valid until {end}; it has not expired."),
            end=grant.valid_to.isoformat(),
        )
    assert grant.id is not None
    for week in weeks_between(grant.valid_from, grant.valid_to):
        await expire_week(session, grant_id=grant.id, iso_week=week, actor=actor)
    await close_after_end(session, grant=grant, actor=actor)
    grant.status = GrantStatus.EXPIRED
    grant.ended_at = utcnow()
    grant.ended_reason = "expired"
    await citizens_repository.flush(session)
    await audit.record(
        session,
        actor=actor,
        action="grant.expired",
        entity_type="grant",
        entity_id=grant.id,
        municipality_id=grant.municipality_id,
        data={"valid_to": grant.valid_to},
    )
    return grant


async def close_past_weeks(
    session: AsyncSession, *, today: date | None = None, actor: Actor | None = None
) -> int:
    """The weekly job (idempotent, safe to run daily): every week that has ended
    is closed (its leftover units expire or roll over), and grants whose last
    day has passed become expired. Returns how many weeks were closed."""
    day = today or today_in_copenhagen()
    closed = 0
    for grant_id in await grants_with_weeks_to_close(session, today=day):
        closed += await close_grant_weeks(session, grant_id=grant_id, today=day, actor=actor)
    return closed


async def grants_with_weeks_to_close(session: AsyncSession, *, today: date) -> list[int]:
    this_monday = today - timedelta(days=today.weekday())
    return await repository.grants_with_weeks_to_close(
        session, this_monday=this_monday, today=today
    )


async def close_grant_weeks(
    session: AsyncSession, *, grant_id: int, today: date, actor: Actor | None = None
) -> int:
    """One grant's ended weeks, from the day after the last one closed: the
    runner commits per grant and never walks a grant's whole history again."""
    grant = await load_grant(session, grant_id)
    this_monday = today - timedelta(days=today.weekday())
    last_week_end = min(grant.valid_to, this_monday - timedelta(days=1))
    through = await repository.closed_through(session, grant_id)
    start = grant.valid_from if through is None else max(grant.valid_from, through + timedelta(1))
    closed = 0
    if start <= last_week_end:
        for week in weeks_between(start, last_week_end):
            move = await expire_week(session, grant_id=grant_id, iso_week=week, actor=actor)
            if move is not None and not move.replayed:
                closed += 1
        await repository.set_closed_through(session, grant_id, last_week_end)
    if grant.status == GrantStatus.ACTIVE and grant.valid_to < today:
        await expire_grant(session, grant_id=grant_id, actor=actor, today=today)
    return closed


# --- my voucher --------------------------------------------------------------


@dataclass
class WeekView:
    iso_week: str
    week: int
    starts_on: date
    units_left: int
    units_reserved: int
    units_used: int


@dataclass
class VoucherView:
    citizen: Citizen | None
    grant: VoucherGrant | None
    weeks: list[WeekView]
    choices: list[Citizen]


async def my_voucher(
    session: AsyncSession,
    *,
    actor: Actor,
    citizen_id: int | None = None,
    weeks_ahead: int = 3,
    today: date | None = None,
) -> VoucherView:
    """Units left this week and the coming weeks, and what the citizen pays per unit."""
    day = today or today_in_copenhagen()
    citizen, choices = await own_citizen(session, actor=actor, citizen_id=citizen_id)
    if citizen is None:
        return VoucherView(citizen=None, grant=None, weeks=[], choices=choices)
    assert citizen.id is not None
    grant = await repository.active_grant_on(session, citizen.id, day)
    if grant is None:
        upcoming = [
            g
            for g in await repository.grants_of_citizen(session, citizen.id)
            if g.status == GrantStatus.ACTIVE and g.valid_to >= day
        ]
        grant = min(upcoming, key=lambda g: g.valid_from) if upcoming else None
    weeks: list[WeekView] = []
    if grant is not None and grant.id is not None:
        codes = [iso_week_of(day + timedelta(days=7 * i)) for i in range(weeks_ahead + 1)]
        balances = await ledger_repository.week_balances(session, [grant.id], codes)
        allotted = await ledger_repository.existing_keys(
            session, [f"allot:{grant.id}:{w}" for w in codes]
        )
        for week in codes:

            def bal(kind: AccountKind, week: str = week) -> int:
                return balances.get((grant.id, kind.value, week), 0)  # type: ignore[arg-type]

            left = bal(AccountKind.AVAILABLE)
            if f"allot:{grant.id}:{week}" not in allotted:
                left += grant_allotment(grant, week)
            weeks.append(
                WeekView(
                    iso_week=week,
                    week=week_number(week),
                    starts_on=week_monday(week),
                    units_left=left,
                    units_reserved=bal(AccountKind.RESERVED),
                    units_used=bal(AccountKind.REDEEMED),
                )
            )
    return VoucherView(citizen=citizen, grant=grant, weeks=weeks, choices=choices)


async def active_grant_on(
    session: AsyncSession, *, citizen_id: int, day: date
) -> VoucherGrant | None:
    return await repository.active_grant_on(session, citizen_id, day)


def active_grant_select(
    citizen_id: int | ColumnElement[Any] | Mapped[Any], day: date | ColumnElement[date]
) -> Select[VoucherGrant]:
    """``active_grant_on`` as a statement, for a caller's own read (the order path)."""
    return repository.active_grant_select(citizen_id, day)


async def grants_by_ids(session: AsyncSession, *, grant_ids: list[int]) -> dict[int, VoucherGrant]:
    return await repository.grants_by_ids(session, grant_ids)
