"""Moving an order through its lifecycle: the one transition check, the event
and audit row of every move, the voucher units and the co-payment that follow
an order's outcome, and the provider's webhook. Every part of market.orders
moves orders through here."""

from collections.abc import Callable
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from market import lifecycle
from market.audit import service as audit
from market.auth.permissions import Actor
from market.clock import COPENHAGEN, local_instant
from market.db import utcnow
from market.errors import AppError, NotFound, PermissionDenied
from market.orders import repository
from market.orders.exceptions import OrderChangedMeanwhile, OrderNotFound, OrderTransitionRefused
from market.orders.models import ORDER_TRANSITIONS, Order, OrderStatus
from market.outbox import service as outbox
from market.payments import service as payments
from market.payments.service import CopaymentDue
from providers import service as providers
from providers.models import OrderingProfile
from vouchers import service as vouchers

# Statuses in which the order holds voucher units and capacity.
HOLDS_UNITS = frozenset({OrderStatus.PLACED, OrderStatus.ACCEPTED, OrderStatus.OUT_FOR_DELIVERY})
# Statuses the citizen's side may still cancel.
CANCELLABLE = frozenset({OrderStatus.PLACED, OrderStatus.ACCEPTED})
# How many days ahead a citizen orders, and standing orders are placed.
ORDER_DAYS_AHEAD = 7


def _refused(current: OrderStatus, wanted: OrderStatus) -> OrderTransitionRefused:
    return OrderTransitionRefused(current.value.replace("_", " "), wanted.value.replace("_", " "))


def check_transition(current: OrderStatus, wanted: OrderStatus) -> None:
    lifecycle.check_transition(ORDER_TRANSITIONS, current, wanted, _refused)


def cutoff_for(profile: OrderingProfile, day: date) -> datetime:
    return local_instant(day - timedelta(days=profile.cutoff_days_before), profile.cutoff_time)


def format_local(instant: datetime) -> str:
    return instant.astimezone(COPENHAGEN).strftime("%Y-%m-%d %H:%M")


def today_of(now: datetime) -> date:
    return now.astimezone(COPENHAGEN).date()


async def paused_on(session: AsyncSession, *, citizen_id: int, day: date) -> bool:
    pauses = await repository.pauses_of_citizen(session, citizen_id, not_ended_before=day)
    return any(p.covers(day) for p in pauses)


# --- finding an order for whoever acts on it -----------------------------------------


async def order_for_provider(session: AsyncSession, actor: Actor, order_id: int) -> Order:
    order = await repository.get_order(session, order_id)
    if order is None or actor.provider_id is None or order.provider_id != actor.provider_id:
        raise OrderNotFound()
    return order


async def acting_for(
    session: AsyncSession, actor: Actor, citizen_id: int, refusal: Callable[[], AppError]
) -> Actor:
    """The actor acting for the citizen an order, standing order or pause
    belongs to (vouchers decides who may); to anyone else it does not exist."""
    try:
        return await vouchers.acting_for_citizen(session, actor=actor, citizen_id=citizen_id)
    except (PermissionDenied, NotFound) as exc:
        raise refusal() from exc


async def order_for_citizen_side(
    session: AsyncSession, actor: Actor, order_id: int
) -> tuple[Order, Actor]:
    order = await repository.get_order(session, order_id)
    if order is None:
        raise OrderNotFound()
    return order, await acting_for(session, actor, order.citizen_id, OrderNotFound)


# --- the provider's webhook ------------------------------------------------------------


def webhook_payload(order: Order, status: OrderStatus) -> dict[str, object]:
    """The one payload a provider's kitchen system receives about an order."""
    return {
        "order_id": order.id,
        "delivery_on": order.delivery_on.isoformat(),
        "offer_id": order.offer_id,
        "units": order.units,
        "status": status.value,
    }


async def notify_provider(
    session: AsyncSession,
    *,
    profile: OrderingProfile | None,
    order: Order,
    event: str,
    status: OrderStatus | None = None,
) -> None:
    """Tells the provider's kitchen system, when it has a webhook."""
    if profile is None or not (profile.webhook_url and profile.webhook_secret):
        return
    await outbox.enqueue_webhook(
        session,
        idempotency_key=f"webhook:{event}:{order.id}",
        url=profile.webhook_url,
        secret=profile.signing_secrets(utcnow()),
        event=event,
        data=webhook_payload(order, status or order.status),
        municipality_id=order.municipality_id,
    )


async def notify_cancelled(session: AsyncSession, order: Order, status: OrderStatus) -> None:
    """Tells the provider's kitchen system that a meal it may be planning is off."""
    profile = await providers.ordering_profile_of(session, provider_id=order.provider_id)
    await notify_provider(
        session, profile=profile, order=order, event="order.cancelled", status=status
    )


# --- the moves -------------------------------------------------------------------------


def event_values(
    before: OrderStatus | None, after: OrderStatus, actor: Actor | None, note: str | None = None
) -> dict[str, object]:
    """An order event's row, but for the order it belongs to."""
    return {
        "from_status": before,
        "to_status": after,
        "actor_user_id": actor.user_id if actor else None,
        "on_behalf_of_user_id": actor.on_behalf_of_user_id if actor else None,
        "note": note,
        "occurred_at": utcnow(),
    }


async def add_event(
    session: AsyncSession,
    order_id: int,
    before: OrderStatus | None,
    after: OrderStatus,
    actor: Actor | None,
    note: str | None = None,
) -> None:
    await repository.add_event(
        session, {"order_id": order_id, **event_values(before, after, actor, note)}
    )


async def move(
    session: AsyncSession,
    order: Order,
    wanted: OrderStatus,
    *,
    actor: Actor | None,
    note: str | None = None,
    values: dict[str, object] | None = None,
) -> Order:
    """The per-order step every move takes: the transition check, a conditional
    update against the status read, the event and the audit row."""
    before = order.status
    check_transition(before, wanted)
    assert order.id is not None
    if not await repository.move_order(
        session,
        order_id=order.id,
        current=before,
        values={"status": wanted, **(values or {})},
    ):
        # Someone else moved it in the meantime: refuse against what it is now.
        fresh = await repository.get_order(session, order.id)
        assert fresh is not None
        check_transition(fresh.status, wanted)
        raise OrderChangedMeanwhile()
    await add_event(session, order.id, before, wanted, actor, note)
    await session.refresh(order)
    await audit.record(
        session,
        actor=actor,
        action=f"order.{wanted.value}",
        entity_type="order",
        entity_id=order.id,
        municipality_id=order.municipality_id,
        data={
            "from": before,
            "to": wanted,
            "note": note,
            **{k: v for k, v in (values or {}).items() if k in ("failure_reason",)},
        },
    )
    return order


async def release(session: AsyncSession, order: Order, actor: Actor | None) -> None:
    await vouchers.release(
        session,
        grant_id=order.grant_id,
        delivery_on=order.delivery_on,
        units=order.units,
        idempotency_key=f"order:{order.id}:release",
        actor=actor,
        order_ref=f"order:{order.id}",
    )
    await repository.give_back_capacity(
        session, scope=f"approval:{order.approval_id}", day=order.delivery_on, units=order.units
    )
    await repository.give_back_capacity(
        session, scope=f"offer:{order.offer_id}", day=order.delivery_on, units=order.units
    )


async def record_copayment(session: AsyncSession, order: Order, due: CopaymentDue) -> None:
    """The card payment (if the citizen pays by card) follows the order's outcome."""
    assert order.id is not None
    await payments.record_order_outcome(
        session, order_id=order.id, municipality_id=order.municipality_id, due=due
    )


async def redeem(session: AsyncSession, order: Order, actor: Actor | None) -> None:
    await vouchers.redeem(
        session,
        grant_id=order.grant_id,
        delivery_on=order.delivery_on,
        units=order.units,
        idempotency_key=f"order:{order.id}:redeem",
        actor=actor,
        order_ref=f"order:{order.id}",
    )


async def units_back(session: AsyncSession, order: Order, actor: Actor | None) -> None:
    """The meal did not happen on the citizen's account: units and capacity
    back, no co-payment."""
    await release(session, order, actor)
    await record_copayment(session, order, CopaymentDue.NOT_OWED)


async def units_used(
    session: AsyncSession, order: Order, actor: Actor | None, due: CopaymentDue
) -> None:
    """The meal was cooked: the unit is used and the co-payment follows ``due``."""
    await redeem(session, order, actor)
    await record_copayment(session, order, due)


async def cancel(
    session: AsyncSession,
    order: Order,
    acting: Actor,
    *,
    late: bool,
    note: str | None = None,
    values: dict[str, object] | None = None,
) -> Order:
    """Cancels one order for its citizen (by hand or by a pause). Before the
    cut-off the units come back; a late cancellation uses the unit and the
    co-payment is owed, as the meal was cooked."""
    wanted = OrderStatus.LATE_CANCELLED if late else OrderStatus.CANCELLED
    check_transition(order.status, wanted)
    if late:
        await units_used(session, order, acting, CopaymentDue.OWED)
    else:
        await units_back(session, order, acting)
    await notify_cancelled(session, order, wanted)
    return await move(session, order, wanted, actor=acting, note=note, values=values)
