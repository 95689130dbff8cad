"""Nothing is sent out, delivered or failed before its delivery day (in
Copenhagen): a kitchen that marks tomorrow's meal "citizen absent" today would
raise a false welfare alert and charge the co-payment. A 409 sentence, and
nothing changes."""

from datetime import time

import pytest
from sqlalchemy import func, select, update

from market.clock import local_instant
from market.errors import Conflict
from market.orders import service
from market.orders.models import FailureReason, Order, OrderStatus, WelfareAlert
from tests.market.orders.conftest import days_ahead
from tests.market.orders.test_kitchen_api import place, status_of, system  # noqa: F401
from vouchers import repository as voucher_repository
from vouchers.models import AccountKind
from vouchers.service import iso_week_of


async def redeemed(session, diner, day) -> int:
    return await voucher_repository.balance(
        session, diner.grant.id, AccountKind.REDEEMED, iso_week_of(day)
    )


async def sent_out_early(session, order_id: int) -> None:
    await session.execute(
        update(Order).where(Order.id == order_id).values(status=OrderStatus.OUT_FOR_DELIVERY)
    )
    await session.commit()


async def test_an_order_cannot_be_handled_before_its_delivery_day(
    session, settings, kitchen, diner
):
    day = days_ahead(2)
    order_id = await place(session, kitchen, diner, day, "early")
    await service.accept_orders(session, actor=kitchen.staff, order_ids=[order_id])
    the_day_before = local_instant(days_ahead(1), time(23, 59))
    attempts = {
        "out": lambda: service.mark_out_for_delivery(
            session, actor=kitchen.staff, order_ids=[order_id], now=the_day_before
        ),
        "delivered": lambda: service.mark_delivered(
            session, actor=kitchen.staff, order_id=order_id, now=the_day_before
        ),
        "absent": lambda: service.mark_failed(
            session,
            actor=kitchen.staff,
            order_id=order_id,
            reason=FailureReason.CITIZEN_ABSENT,
            settings=settings,
            now=the_day_before,
        ),
    }
    for what, attempt in attempts.items():
        with pytest.raises(Conflict) as refused:
            await attempt()
        assert refused.value.status_code == 409, what
        assert "delivery day" in str(refused.value), what
        # Delivered and failed follow "out for delivery": as if sent out early
        # before this rule, so the next attempts meet the day, not the transition.
        await sent_out_early(session, order_id)
    assert await status_of(session, order_id) == OrderStatus.OUT_FOR_DELIVERY
    assert (await session.execute(select(func.count()).select_from(WelfareAlert))).scalar_one() == 0
    assert await redeemed(session, diner, day) == 0

    # On the day itself, from midnight in Copenhagen, it can.
    midnight = local_instant(day, time(0, 0))
    delivered = await service.mark_delivered(
        session, actor=kitchen.staff, order_id=order_id, now=midnight
    )
    assert delivered.status == OrderStatus.DELIVERED
    assert await redeemed(session, diner, day) == 1


async def test_a_kitchen_system_gets_a_409_sentence_for_tomorrows_order(
    system,  # noqa: F811 (the fixture imported above)
    session,
    kitchen,
    diner,
):
    order_id = await place(session, kitchen, diner, days_ahead(2), "api-early")
    await service.accept_orders(session, actor=kitchen.staff, order_ids=[order_id])
    await session.commit()
    response = await system.post(f"/api/v1/kitchen/orders/{order_id}/out-for-delivery")
    assert response.status_code == 409, response.text
    assert "delivery day" in response.json()["detail"]
    await sent_out_early(session, order_id)
    response = await system.post(f"/api/v1/kitchen/orders/{order_id}/delivered")
    assert response.status_code == 409, response.text
    assert "delivery day" in response.json()["detail"]
    response = await system.post(
        f"/api/v1/kitchen/orders/{order_id}/failed", json={"reason": "citizen_absent"}
    )
    assert response.status_code == 409, response.text
    order = await session.get(Order, order_id, populate_existing=True)
    assert order.status == OrderStatus.OUT_FOR_DELIVERY and order.failure_reason is None
