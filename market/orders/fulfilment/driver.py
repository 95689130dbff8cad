"""The driver's page: today's route in stop order, one tap per stop (delivered,
not at home, refused) and, when something seems wrong, a welfare note for the
citizen's case worker (kept in market.orders.alerts). A tap carries a key of
its own, so a phone that lost its connection and sends the same tap again
records it once."""

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from market import idempotency
from market.auth.permissions import Actor
from market.config import Settings
from market.db import utcnow
from market.errors import N_, InvalidInput
from market.orders import repository
from market.orders.alerts.service import raise_note
from market.orders.exceptions import OrderTransitionRefused
from market.orders.fulfilment.service import mark_delivered, mark_failed, mark_out_for_delivery
from market.orders.kitchen.service import KitchenLine, kitchen_board, route_groups
from market.orders.models import FailureReason, Order, OrderStatus
from market.orders.moves.service import HOLDS_UNITS, order_for_provider


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
    line: KitchenLine

    @property
    def done(self) -> bool:
        return self.line.order.status not in HOLDS_UNITS


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
    board = await kitchen_board(session, actor=actor, day=day)
    lines = [line for _, group in route_groups(board) for line in group]
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
        order = await order_for_provider(session, actor, earlier.order_id)
        note = await repository.get_note_by_key(session, idempotency.fit(f"tap:{key}:note"))
        return TapResult(
            order=order,
            outcome=StopOutcome(earlier.outcome),
            note_id=note.id if note else None,
            replayed=True,
        )
    order = await order_for_provider(session, actor, order_id)
    status, reason = _REACHED[wanted]
    already = order.status == status and order.failure_reason == reason
    if not already:
        if order.status == OrderStatus.ACCEPTED:
            [order] = await mark_out_for_delivery(
                session, actor=actor, order_ids=[order_id], now=now
            )
        if wanted == StopOutcome.DELIVERED:
            order = await mark_delivered(session, actor=actor, order_id=order_id, now=now)
        else:
            assert reason is not None
            order = await mark_failed(
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
        note_id = await raise_note(session, actor=actor, order=order, seen=seen, text=text, key=key)
    return TapResult(order=order, outcome=wanted, note_id=note_id, replayed=False)
