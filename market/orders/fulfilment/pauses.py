"""Pauses: a hospital stay, a holiday, a stay with family. A pause cancels the
orders inside it (units and capacity back through the ledger and the capacity
counters, as any cancellation), standing orders skip it and start again by
themselves on the day it ends. Cancelling goes through the one per-order step
in market.orders.moves."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.auth.models import Role
from market.auth.permissions import Actor
from market.db import utcnow
from market.errors import N_, InvalidInput
from market.municipalities import service as municipalities
from market.orders import repository
from market.orders.exceptions import PauseEnded, PauseNotFound, PauseOverlaps
from market.orders.kitchen.service import kitchen_provider
from market.orders.models import CitizenPause, Order, OrderStatus, PauseReason
from market.orders.moves.service import CANCELLABLE, ORDER_DAYS_AHEAD, acting_for, cancel, today_of
from market.orders.standing.service import place_ahead
from vouchers import service as vouchers
from vouchers.models import Citizen

# How far ahead a pause may start: far enough for a planned operation or a
# summer holiday, near enough that a typo in the year is caught.
MAX_DAYS_AHEAD = 366


@dataclass
class PauseOutcome:
    """What a pause did to the orders inside it, for the page that confirms it."""

    pause: CitizenPause
    cancelled_free: list[Order] = field(default_factory=list)
    cancelled_charged: list[Order] = field(default_factory=list)
    on_the_way: list[Order] = field(default_factory=list)


@dataclass(frozen=True)
class PauseView:
    citizen: Citizen
    pauses: list[CitizenPause]
    today: date


def _reason(value: str) -> PauseReason:
    try:
        return PauseReason(value)
    except ValueError as exc:
        raise InvalidInput(N_("Choose why the meals should pause.")) from exc


def _free_inside_cutoff(acting: Actor, reason: PauseReason, municipal_rule: bool) -> bool:
    """A case worker who records a hospital admission knows the citizen cannot
    be home: those meals are free whatever the cut-off. Otherwise the
    municipality's rule decides."""
    if reason == PauseReason.HOSPITAL and acting.role == Role.CASE_WORKER:
        return True
    return municipal_rule


async def _cancel_inside(
    session: AsyncSession, pause: CitizenPause, acting: Actor, now: datetime
) -> PauseOutcome:
    assert pause.id is not None
    outcome = PauseOutcome(pause=pause)
    municipality = await municipalities.get(session, municipality_id=pause.municipality_id)
    free_late = _free_inside_cutoff(acting, pause.reason, municipality.pause_inside_cutoff_free)
    inside = await repository.orders_to_pause(
        session,
        citizen_id=pause.citizen_id,
        first=pause.starts_on,
        before=pause.resumes_on,
        statuses=CANCELLABLE | {OrderStatus.OUT_FOR_DELIVERY},
    )
    note = f"paused ({pause.reason.value})"
    for order in inside:
        if order.status == OrderStatus.OUT_FOR_DELIVERY:
            outcome.on_the_way.append(order)
            continue
        # Past the cut-off the meal is cooked: as any late cancellation.
        late = not (now < order.cutoff_at or free_late)
        moved = await cancel(
            session, order, acting, late=late, note=note, values={"pause_id": pause.id}
        )
        (outcome.cancelled_charged if late else outcome.cancelled_free).append(moved)
    return outcome


async def _restart_standing_orders(session: AsyncSession, citizen_id: int, now: datetime) -> None:
    """Places the standing orders ahead again from tomorrow: days a pause no
    longer covers are ordered, days it covers are skipped."""
    for standing in await repository.standing_orders_of_citizen(session, citizen_id):
        if not standing.active:
            continue
        assert standing.id is not None
        await repository.update_standing_order(
            session, standing_id=standing.id, values={"placed_through_on": None}
        )
        await session.refresh(standing)
        await place_ahead(session, standing, now=now, days_ahead=ORDER_DAYS_AHEAD)


async def _audit(
    session: AsyncSession,
    action: str,
    acting: Actor,
    pause: CitizenPause,
    outcome: PauseOutcome,
) -> None:
    assert pause.id is not None
    await audit.record(
        session,
        actor=acting,
        action=action,
        entity_type="citizen_pause",
        entity_id=pause.id,
        municipality_id=pause.municipality_id,
        data={
            "citizen_id": pause.citizen_id,
            "reason": pause.reason,
            "starts_on": pause.starts_on,
            "resumes_on": pause.resumes_on,
            "cancelled_free": [o.id for o in outcome.cancelled_free],
            "cancelled_charged": [o.id for o in outcome.cancelled_charged],
        },
    )


async def register_pause(
    session: AsyncSession,
    *,
    actor: Actor,
    citizen_id: int | None,
    reason: str,
    starts_on: date,
    resumes_on: date | None,
    now: datetime | None = None,
) -> PauseOutcome:
    """No meals from starts_on until the day before resumes_on (open-ended
    without it). The citizen, a linked relative or the case worker."""
    now = now or utcnow()
    today = today_of(now)
    why = _reason(reason)
    citizen, acting = await vouchers.citizen_for_ordering(
        session, actor=actor, citizen_id=citizen_id
    )
    assert citizen.id is not None
    if starts_on < today:
        raise InvalidInput(N_("A pause cannot start before today."))
    if starts_on > today + timedelta(days=MAX_DAYS_AHEAD):
        raise InvalidInput(N_("A pause can start at most a year from today."))
    if resumes_on is not None and resumes_on <= starts_on:
        raise InvalidInput(N_("The day the meals start again must be after the pause starts."))
    for other in await repository.pauses_of_citizen(session, citizen.id, not_ended_before=today):
        ends_before = other.resumes_on is not None and other.resumes_on <= starts_on
        starts_after = resumes_on is not None and other.starts_on >= resumes_on
        if not (ends_before or starts_after):
            raise PauseOverlaps()
    pause_id = await repository.add_pause(
        session,
        {
            "municipality_id": citizen.municipality_id,
            "citizen_id": citizen.id,
            "reason": why,
            "starts_on": starts_on,
            "resumes_on": resumes_on,
            "created_by_user_id": acting.user_id,
            "on_behalf_of_user_id": acting.on_behalf_of_user_id,
            "created_at": now,
        },
    )
    pause = await repository.get_pause(session, pause_id)
    assert pause is not None
    outcome = await _cancel_inside(session, pause, acting, now)
    await _restart_standing_orders(session, citizen.id, now)
    await _audit(session, "pause.registered", acting, pause, outcome)
    return outcome


async def _pause_for_citizen_side(
    session: AsyncSession, actor: Actor, pause_id: int
) -> tuple[CitizenPause, Actor]:
    pause = await repository.get_pause(session, pause_id)
    if pause is None:
        raise PauseNotFound()
    return pause, await acting_for(session, actor, pause.citizen_id, PauseNotFound)


async def change_pause_end(
    session: AsyncSession,
    *,
    actor: Actor,
    pause_id: int,
    resumes_on: date | None,
    now: datetime | None = None,
) -> PauseOutcome:
    """Ends a pause early (a day sooner than planned, or today) or later (the
    stay got longer, or no end yet). Orders a longer pause now covers are
    cancelled as when it was registered; days a shorter pause no longer covers
    are ordered again by the standing orders."""
    now = now or utcnow()
    today = today_of(now)
    pause, acting = await _pause_for_citizen_side(session, actor, pause_id)
    assert pause.id is not None
    if pause.resumes_on is not None and pause.resumes_on <= today:
        raise PauseEnded()
    if resumes_on is not None:
        if resumes_on < today:
            raise InvalidInput(N_("The day the meals start again cannot be before today."))
        # Ending a pause that has not begun yet withdraws it (it covers no day).
        resumes_on = max(resumes_on, pause.starts_on)
    for other in await repository.pauses_of_citizen(
        session, pause.citizen_id, not_ended_before=today
    ):
        if other.id != pause.id and other.starts_on > pause.starts_on:
            if resumes_on is None or resumes_on > other.starts_on:
                raise PauseOverlaps()
    await repository.set_pause_end(session, pause_id=pause.id, resumes_on=resumes_on)
    await session.refresh(pause)
    outcome = await _cancel_inside(session, pause, acting, now)
    await _restart_standing_orders(session, pause.citizen_id, now)
    await _audit(session, "pause.changed", acting, pause, outcome)
    return outcome


async def pauses_of(
    session: AsyncSession, *, actor: Actor, citizen_id: int | None, now: datetime | None = None
) -> PauseView:
    """The citizen's current and coming pauses."""
    today = today_of(now or utcnow())
    citizen, _ = await vouchers.citizen_for_ordering(session, actor=actor, citizen_id=citizen_id)
    assert citizen.id is not None
    pauses = await repository.pauses_of_citizen(session, citizen.id, not_ended_before=today)
    return PauseView(
        citizen=citizen,
        pauses=[p for p in pauses if p.resumes_on is None or p.resumes_on > p.starts_on],
        today=today,
    )


async def paused_customers(
    session: AsyncSession, *, actor: Actor, day: date
) -> list[tuple[Citizen, CitizenPause]]:
    """For the kitchen: its recent customers who have no meals that day."""
    provider_id = kitchen_provider(actor)
    pauses = await repository.paused_customers(
        session, provider_id=provider_id, day=day, since=day - timedelta(days=28)
    )
    citizens = await vouchers.citizens_by_ids(
        session, citizen_ids=sorted({p.citizen_id for p in pauses})
    )
    return sorted(((citizens[p.citizen_id], p) for p in pauses), key=lambda pair: pair[0].full_name)
