"""The driver's page: today's route in stop order, one tap per stop (delivered,
not at home, refused) and, when something seems wrong, a welfare note for the
citizen's case worker. A tap carries a key of its own, so a phone that lost its
connection and sends the same tap again records it once."""

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from market import idempotency
from market.audit import service as audit
from market.auth.permissions import Actor
from market.config import Settings
from market.db import utcnow
from market.errors import N_, InvalidInput
from market.orders import repository
from market.orders import service as orders
from market.orders.exceptions import AlertNotFound, AlreadyAcknowledged, OrderTransitionRefused
from market.orders.models import FailureReason, Order, OrderStatus, WelfareNote
from vouchers import service as vouchers
from vouchers.models import Citizen


class StopOutcome(StrEnum):
    DELIVERED = "delivered"
    NOT_AT_HOME = "not_at_home"
    REFUSED = "refused"


# What the driver may tick; the case worker reads them in words.
OBSERVATIONS = ("confused", "meal_untouched", "fall")

# The outcome each tap leaves the order in: a repeated tap with another key
# (the driver pressed twice) is accepted when the order is there already.
_REACHED = {
    StopOutcome.DELIVERED: (OrderStatus.DELIVERED, None),
    StopOutcome.NOT_AT_HOME: (OrderStatus.FAILED, FailureReason.CITIZEN_ABSENT),
    # The citizen refused the meal at the door: the provider's side of the
    # ledger (unit back, not paid), as any delivery that did not happen.
    StopOutcome.REFUSED: (OrderStatus.FAILED, FailureReason.NOT_DELIVERED),
}


@dataclass(frozen=True)
class Stop:
    number: int
    line: orders.KitchenLine

    @property
    def done(self) -> bool:
        return self.line.order.status not in orders.HOLDS_UNITS


@dataclass(frozen=True)
class Route:
    day: date
    stops: list[Stop]

    @property
    def left(self) -> int:
        return sum(not stop.done for stop in self.stops)


async def route(session: AsyncSession, *, actor: Actor, day: date) -> Route:
    """The meals to drive that day, in the route list's order (postal code,
    then address): the same orders as the packing list."""
    board = await orders.kitchen_board(session, actor=actor, day=day)
    lines = [line for _, group in orders.route_groups(board) for line in group]
    return Route(day=day, stops=[Stop(number=i, line=line) for i, line in enumerate(lines, 1)])


@dataclass(frozen=True)
class TapResult:
    order: Order
    outcome: StopOutcome
    note_id: int | None
    replayed: bool


def _outcome(value: str) -> StopOutcome:
    try:
        return StopOutcome(value)
    except ValueError as exc:
        raise InvalidInput(N_("Choose delivered, not at home or refused.")) from exc


async def record_stop(
    session: AsyncSession,
    *,
    actor: Actor,
    order_id: int,
    outcome: str,
    idempotency_key: str,
    observations: list[str],
    text: str,
    settings: Settings,
    now: datetime | None = None,
) -> TapResult:
    """One tap at one door. A meal still marked in the kitchen goes out for
    delivery first (the driver has it in hand). Not at home raises the welfare
    alert as on the kitchen board; an observation becomes a welfare note."""
    now = now or utcnow()
    key = idempotency.client_key(idempotency_key)
    wanted = _outcome(outcome)
    seen = [o for o in observations if o]
    if any(o not in OBSERVATIONS for o in seen):
        raise InvalidInput(N_("That observation is not on the list; write it as text instead."))
    text = text.strip()[:2000]
    await repository.lock_idempotency_key(session, f"tap:{key}")
    earlier = await repository.get_tap(session, key)
    if earlier is not None:
        order = await orders._order_for_provider(session, actor, earlier.order_id)
        note = await repository.get_note_by_key(session, idempotency.fit(f"tap:{key}:note"))
        return TapResult(
            order=order,
            outcome=StopOutcome(earlier.outcome),
            note_id=note.id if note else None,
            replayed=True,
        )
    order = await orders._order_for_provider(session, actor, order_id)
    status, reason = _REACHED[wanted]
    already = order.status == status and order.failure_reason == reason
    if not already:
        if order.status == OrderStatus.ACCEPTED:
            [order] = await orders.mark_out_for_delivery(
                session, actor=actor, order_ids=[order_id], now=now
            )
        if wanted == StopOutcome.DELIVERED:
            order = await orders.mark_delivered(session, actor=actor, order_id=order_id, now=now)
        else:
            assert reason is not None
            order = await orders.mark_failed(
                session,
                actor=actor,
                order_id=order_id,
                reason=reason,
                note=text if wanted == StopOutcome.NOT_AT_HOME else "refused at the door",
                settings=settings,
                now=now,
            )
    elif order.status not in (OrderStatus.DELIVERED, OrderStatus.FAILED):
        raise OrderTransitionRefused(order.status.value, status.value)
    await repository.add_tap(
        session,
        {
            "idempotency_key": key,
            "order_id": order_id,
            "outcome": wanted.value,
            "user_id": actor.user_id,
            "recorded_at": now,
        },
    )
    note_id = None
    if seen or (text and wanted != StopOutcome.NOT_AT_HOME):
        note_id = await _note(session, actor=actor, order=order, seen=seen, text=text, key=key)
    return TapResult(order=order, outcome=wanted, note_id=note_id, replayed=False)


async def _note(
    session: AsyncSession, *, actor: Actor, order: Order, seen: list[str], text: str, key: str
) -> int:
    note_id = await repository.insert_note(
        session,
        {
            "municipality_id": order.municipality_id,
            "citizen_id": order.citizen_id,
            "order_id": order.id,
            "observations": ",".join(seen),
            "text": text,
            "raised_at": utcnow(),
            "raised_by_user_id": actor.user_id,
            "idempotency_key": idempotency.fit(f"tap:{key}:note"),
        },
    )
    await audit.record(
        session,
        actor=actor,
        action="welfare_note.raised",
        entity_type="welfare_note",
        entity_id=note_id,
        municipality_id=order.municipality_id,
        data={"order_id": order.id, "citizen_id": order.citizen_id, "observations": seen},
    )
    return note_id


# --- the case worker's side --------------------------------------------------------


@dataclass(frozen=True)
class NoteEntry:
    note: WelfareNote
    citizen: Citizen


async def open_notes(session: AsyncSession, *, actor: Actor) -> list[NoteEntry]:
    if actor.municipality_id is None:
        return []
    found = list(await repository.notes(session, actor.municipality_id, open_only=True))
    citizens = await vouchers.citizens_by_ids(
        session, citizen_ids=sorted({n.citizen_id for n in found})
    )
    return [NoteEntry(note=n, citizen=citizens[n.citizen_id]) for n in found]


async def acknowledge_note(
    session: AsyncSession, *, actor: Actor, note_id: int, reply: str
) -> WelfareNote:
    """As a welfare alert: a person writes what was done."""
    reply = reply.strip()
    if not reply:
        raise InvalidInput(N_("Please write what was done, e.g. who was called."))
    note = await repository.get_note(session, note_id)
    if note is None:
        raise AlertNotFound()
    orders._staff_of(actor, note.municipality_id)
    if not await repository.acknowledge_note(
        session,
        note_id=note_id,
        values={
            "acknowledged_at": utcnow(),
            "acknowledged_by_user_id": actor.user_id,
            "acknowledgement_note": reply,
        },
    ):
        raise AlreadyAcknowledged()
    await session.refresh(note)
    await audit.record(
        session,
        actor=actor,
        action="welfare_note.acknowledged",
        entity_type="welfare_note",
        entity_id=note_id,
        municipality_id=note.municipality_id,
        data={"note": reply},
    )
    return note
