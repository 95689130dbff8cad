from datetime import time, timedelta

import pytest
from sqlalchemy import func, select

from market.clock import local_instant
from market.errors import AppError, Conflict, InvalidInput
from market.orders import service
from market.orders.models import AlertStatus, FailureReason, OrderEvent, OrderStatus, WelfareAlert
from tests.market.orders.conftest import days_ahead, noon_before
from vouchers import repository as voucher_repository
from vouchers.models import AccountKind
from vouchers.service import iso_week_of


async def balance(session, grant, kind, day):
    return await voucher_repository.balance(session, grant.id, kind, iso_week_of(day))


async def place(session, kitchen, diner, day, key="k1", now=None):
    return await service.place_order(
        session,
        actor=diner.me,
        citizen_id=None,
        offer_id=kitchen.offer.id,
        delivery_on=day,
        idempotency_key=key,
        now=now or noon_before(day),
    )


async def test_catalogue_shows_the_price_split(session, kitchen, diner):
    day = days_ahead(3)
    found = await service.catalogue(
        session, actor=diner.me, citizen_id=None, delivery_on=day, now=noon_before(day)
    )
    [entry] = found.entries
    assert entry.offer.id == kitchen.offer.id
    assert (entry.unit_price_ore, entry.copayment_ore, entry.municipality_pays_ore) == (
        8500,
        6000,
        2500,
    )


async def test_catalogue_hides_allergens_and_other_postal_codes(session, kitchen, diner, world):
    day = days_ahead(3)
    diner.citizen.allergies = ["milk"]
    await session.flush()
    found = await service.catalogue(
        session, actor=diner.me, citizen_id=None, delivery_on=day, now=noon_before(day)
    )
    assert found.entries == []
    with pytest.raises(InvalidInput, match="contains milk"):
        await place(session, kitchen, diner, day)


async def test_placing_reserves_a_unit_and_the_same_key_reserves_nothing_twice(
    session, kitchen, diner
):
    day = days_ahead(3)
    first = await place(session, kitchen, diner, day)
    again = await place(session, kitchen, diner, day)
    assert first.id == again.id and first.status == OrderStatus.PLACED
    assert await balance(session, diner.grant, AccountKind.RESERVED, day) == 1
    assert (first.unit_price_ore, first.copayment_ore) == (8500, 6000)


async def test_after_the_cut_off_ordering_is_refused_and_nothing_is_reserved(
    session, kitchen, diner
):
    day = days_ahead(3)
    late = local_instant(day - timedelta(days=1), time(14, 1))
    with pytest.raises(Conflict, match="too late to order"):
        await place(session, kitchen, diner, day, now=late)
    assert await balance(session, diner.grant, AccountKind.RESERVED, day) == 0


async def test_capacity_is_never_exceeded(session, kitchen, diner, world, caps):
    from market.auth import service as auth_service
    from tests.vouchers.conftest import make_citizen, make_grant

    day = days_ahead(4)
    case_worker = auth_service.actor_for(world.user("case_worker"))
    placed = 0
    for n in range(5):
        citizen = await make_citizen(
            session, case_worker, cpr=f"0101{45 + n}-12{n}4", name=f"Borger {n}", postal_code="8000"
        )
        await make_grant(session, case_worker, citizen, day - timedelta(days=day.weekday()))
        try:
            await service.place_order(
                session,
                actor=case_worker,
                citizen_id=citizen.id,
                offer_id=kitchen.offer.id,
                delivery_on=day,
                idempotency_key=f"cap-{n}",
                now=noon_before(day),
            )
            placed += 1
        except Conflict as exc:
            assert "fully booked" in str(exc)
    assert placed == 3  # the approval's daily capacity


async def test_the_whole_way_to_the_door_redeems_the_unit(session, kitchen, diner):
    day = days_ahead(0)
    order = await place(session, kitchen, diner, day)
    await service.accept_orders(session, actor=kitchen.staff, order_ids=[order.id])
    await service.mark_out_for_delivery(session, actor=kitchen.staff, order_ids=[order.id])
    done = await service.mark_delivered(session, actor=kitchen.staff, order_id=order.id)
    assert done.status == OrderStatus.DELIVERED and done.delivered_at is not None
    assert await balance(session, diner.grant, AccountKind.REDEEMED, day) == 1
    assert await balance(session, diner.grant, AccountKind.RESERVED, day) == 0
    result = await session.execute(
        select(OrderEvent.from_status, OrderEvent.to_status)
        .where(OrderEvent.order_id == order.id)
        .order_by(OrderEvent.id)
    )
    assert [tuple(row) for row in result.all()] == [
        (None, OrderStatus.PLACED),
        (OrderStatus.PLACED, OrderStatus.ACCEPTED),
        (OrderStatus.ACCEPTED, OrderStatus.OUT_FOR_DELIVERY),
        (OrderStatus.OUT_FOR_DELIVERY, OrderStatus.DELIVERED),
    ]
    rating = await service.rate_order(
        session, actor=diner.me, order_id=order.id, stars=5, comment="Som hos mor"
    )
    assert rating.stars == 5
    with pytest.raises(Conflict):
        await service.rate_order(session, actor=diner.me, order_id=order.id, stars=4)


async def test_state_changes_out_of_order_are_409(session, kitchen, diner):
    order = await place(session, kitchen, diner, days_ahead(3))
    with pytest.raises(Conflict, match="An order that is placed cannot become delivered"):
        await service.mark_delivered(session, actor=kitchen.staff, order_id=order.id)


async def test_timely_cancel_gives_the_unit_back_late_cancel_uses_it(session, kitchen, diner):
    day = days_ahead(3)
    order = await place(session, kitchen, diner, day)
    cancelled = await service.cancel_order(
        session, actor=diner.me, order_id=order.id, now=noon_before(day)
    )
    assert cancelled.status == OrderStatus.CANCELLED
    assert await balance(session, diner.grant, AccountKind.RESERVED, day) == 0
    second = await place(session, kitchen, diner, day, key="k2")
    late = await service.cancel_order(
        session, actor=diner.me, order_id=second.id, now=local_instant(day, time(8, 0))
    )
    assert late.status == OrderStatus.LATE_CANCELLED
    assert await balance(session, diner.grant, AccountKind.REDEEMED, day) == 1


async def test_citizen_absent_raises_an_open_welfare_alert(
    session, kitchen, diner, world, settings
):
    order = await place(session, kitchen, diner, days_ahead(0))
    await service.accept_orders(session, actor=kitchen.staff, order_ids=[order.id])
    await service.mark_out_for_delivery(session, actor=kitchen.staff, order_ids=[order.id])
    await service.mark_failed(
        session,
        actor=kitchen.staff,
        order_id=order.id,
        reason=FailureReason.CITIZEN_ABSENT,
        note="Ingen lukkede op",
        settings=settings,
    )
    from market.auth import service as auth_service

    case_worker = auth_service.actor_for(world.user("case_worker"))
    [alert] = await service.open_alerts(session, actor=case_worker)
    assert alert.order_id == order.id and alert.status == AlertStatus.OPEN
    with pytest.raises(InvalidInput):
        await service.acknowledge_alert(session, actor=case_worker, alert_id=alert.id, note=" ")
    done = await service.acknowledge_alert(
        session,
        actor=case_worker,
        alert_id=alert.id,
        note="Ringede til datteren; borgeren var hos lægen",
    )
    assert done.status == AlertStatus.ACKNOWLEDGED
    assert await service.open_alerts(session, actor=case_worker) == []


async def test_provider_fault_gives_the_unit_back_and_raises_no_alert(
    session, kitchen, diner, settings
):
    day = days_ahead(0)
    order = await place(session, kitchen, diner, day)
    await service.accept_orders(session, actor=kitchen.staff, order_ids=[order.id])
    await service.mark_out_for_delivery(session, actor=kitchen.staff, order_ids=[order.id])
    await service.mark_failed(
        session,
        actor=kitchen.staff,
        order_id=order.id,
        reason=FailureReason.NOT_DELIVERED,
        settings=settings,
    )
    assert await balance(session, diner.grant, AccountKind.AVAILABLE, day) == 7
    count = await session.execute(select(func.count()).select_from(WelfareAlert))
    assert count.scalar_one() == 0


async def test_unaccepted_orders_expire_and_give_units_back(session, kitchen, diner):
    day = days_ahead(3)
    order = await place(session, kitchen, diner, day)
    assert (
        await service.expire_unaccepted(session, now=order.accept_by_at + timedelta(minutes=1)) == 1
    )
    await session.refresh(order)
    assert order.status == OrderStatus.EXPIRED
    assert await balance(session, diner.grant, AccountKind.RESERVED, day) == 0


async def test_another_provider_cannot_touch_the_order(session, kitchen, diner, world):
    from market.auth.models import Role
    from market.auth.permissions import Actor

    order = await place(session, kitchen, diner, days_ahead(3))
    stranger = Actor(
        user_id=world.user("provider_staff").id,
        role=Role.PROVIDER_STAFF,
        full_name="x",
        provider_id=kitchen.approval.provider_id + 999,
    )
    with pytest.raises(AppError, match="does not exist"):
        await service.accept_orders(session, actor=stranger, order_ids=[order.id])
