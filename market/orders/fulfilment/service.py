"""The kitchen moves its orders: accept, reject, out for delivery, delivered or
failed; and orders nobody accepted in time expire."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.permissions import Actor
from market.config import Settings
from market.db import utcnow
from market.errors import N_, InvalidInput
from market.orders import repository
from market.orders.alerts.service import raise_alert
from market.orders.exceptions import BeforeDeliveryDay
from market.orders.models import FailureReason, Order, OrderStatus
from market.orders.moves.service import (
    check_transition,
    move,
    order_for_provider,
    today_of,
    units_back,
    units_used,
)
from market.payments.service import CopaymentDue


async def accept_orders(
    session: AsyncSession, *, actor: Actor, order_ids: list[int]
) -> list[Order]:
    orders = [await order_for_provider(session, actor, order_id) for order_id in order_ids]
    return [await move(session, order, OrderStatus.ACCEPTED, actor=actor) for order in orders]


async def reject_order(session: AsyncSession, *, actor: Actor, order_id: int, reason: str) -> Order:
    reason = reason.strip()
    if not reason:
        raise InvalidInput(N_("Please give the citizen a reason for the rejection."))
    order = await order_for_provider(session, actor, order_id)
    check_transition(order.status, OrderStatus.REJECTED)
    await units_back(session, order, actor)
    return await move(
        session,
        order,
        OrderStatus.REJECTED,
        actor=actor,
        note=reason,
        values={"status_note": reason},
    )


def _on_its_day(order: Order, wanted: OrderStatus, now: datetime) -> None:
    """A meal is sent out, delivered or failed on its delivery day (or after,
    when marked late), never before: an early "citizen absent" would raise a
    false welfare alert and charge the co-payment."""
    check_transition(order.status, wanted)
    if today_of(now) < order.delivery_on:
        raise BeforeDeliveryDay(order.delivery_on)


async def mark_out_for_delivery(
    session: AsyncSession, *, actor: Actor, order_ids: list[int], now: datetime | None = None
) -> list[Order]:
    now = now or utcnow()
    orders = [await order_for_provider(session, actor, order_id) for order_id in order_ids]
    for order in orders:  # all or none
        _on_its_day(order, OrderStatus.OUT_FOR_DELIVERY, now)
    return [
        await move(session, order, OrderStatus.OUT_FOR_DELIVERY, actor=actor) for order in orders
    ]


async def mark_delivered(
    session: AsyncSession, *, actor: Actor, order_id: int, now: datetime | None = None
) -> Order:
    now = now or utcnow()
    order = await order_for_provider(session, actor, order_id)
    _on_its_day(order, OrderStatus.DELIVERED, now)
    await units_used(session, order, actor, CopaymentDue.OWED)
    return await move(
        session, order, OrderStatus.DELIVERED, actor=actor, values={"delivered_at": now}
    )


async def mark_failed(
    session: AsyncSession,
    *,
    actor: Actor,
    order_id: int,
    reason: FailureReason,
    note: str = "",
    settings: Settings,
    now: datetime | None = None,
) -> Order:
    """A citizen who does not open the door may have fallen: that raises a
    welfare alert at once. The unit is used then (the meal was cooked and
    driven); for the provider's own failures the unit comes back."""
    now = now or utcnow()
    order = await order_for_provider(session, actor, order_id)
    _on_its_day(order, OrderStatus.FAILED, now)
    if reason == FailureReason.CITIZEN_ABSENT:
        await units_used(session, order, actor, CopaymentDue.CITIZEN_ABSENT)
    else:
        await units_back(session, order, actor)
    order = await move(
        session,
        order,
        OrderStatus.FAILED,
        actor=actor,
        note=note or None,
        values={"failure_reason": reason},
    )
    if reason == FailureReason.CITIZEN_ABSENT:
        await raise_alert(session, order=order, actor=actor, note=note, settings=settings, now=now)
    return order


async def expire_unaccepted(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Orders nobody accepted in time expire and give their units back."""
    now = now or utcnow()
    expired = 0
    for order_id in await unaccepted_past_deadline(session, now=now):
        expired += await expire_if_unaccepted(session, order_id=order_id, now=now)
    return expired


async def unaccepted_past_deadline(session: AsyncSession, *, now: datetime) -> list[int]:
    """The ids only: the periodic runner expires each in its own transaction."""
    return [o.id for o in await repository.placed_past_deadline(session, now) if o.id is not None]


async def expire_if_unaccepted(session: AsyncSession, *, order_id: int, now: datetime) -> bool:
    """One order, re-read, so an order accepted since the list was made is left alone."""
    order = await repository.get_order(session, order_id)
    if order is None or order.status != OrderStatus.PLACED or order.accept_by_at > now:
        return False
    await units_back(session, order, None)
    await move(session, order, OrderStatus.EXPIRED, actor=None, note="not accepted in time")
    return True
