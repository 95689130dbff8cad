"""A provider that accepts automatically: the order is placed and accepted at
once, with both events, in that order."""

from datetime import time

from sqlalchemy import select

from market.orders import service
from market.orders.models import OrderEvent, OrderStatus
from providers import service as providers
from tests.market.orders.conftest import days_ahead, noon_before


async def test_an_automatically_accepted_order_has_its_placed_and_accepted_events(
    session, kitchen, diner
):
    await providers.save_ordering_profile(
        session,
        actor=kitchen.admin,
        cutoff_days_before=1,
        cutoff_time=time(14, 0),
        window_start=time(11, 0),
        window_end=time(13, 0),
        accept_within_hours=4,
        auto_accept=True,
        webhook_url=None,
    )
    await session.commit()
    day = days_ahead(3)
    order = await service.place_order(
        session,
        actor=diner.me,
        citizen_id=None,
        offer_id=kitchen.offer.id,
        delivery_on=day,
        idempotency_key="auto",
        now=noon_before(day),
    )
    assert order.status == OrderStatus.ACCEPTED
    events = (
        (
            await session.execute(
                select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)
            )
        )
        .scalars()
        .all()
    )
    assert [(e.from_status, e.to_status) for e in events] == [
        (None, OrderStatus.PLACED),
        (OrderStatus.PLACED, OrderStatus.ACCEPTED),
    ]
    assert events[0].actor_user_id == diner.me.user_id and events[1].actor_user_id is None
    assert events[1].note == "accepted automatically within capacity"
