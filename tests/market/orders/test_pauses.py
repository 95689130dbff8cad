"""Pauses (hospital stays, holidays): orders inside are cancelled, units and
capacity come back exactly, standing orders skip the pause and start again."""

from datetime import time, timedelta

import pytest
from sqlalchemy import select

from market.audit.models import AuditEvent
from market.auth import service as auth_service
from market.clock import local_instant
from market.errors import Conflict, InvalidInput
from market.orders import repository, service
from market.orders.fulfilment import pauses
from market.orders.models import Order, OrderEvent, OrderStatus, PauseReason
from tests.market.orders.conftest import days_ahead, noon_before
from vouchers import repository as voucher_repository
from vouchers.models import AccountKind
from vouchers.service import iso_week_of


async def units(session, diner, day) -> dict[str, int]:
    return {
        kind.value: await voucher_repository.balance(
            session, diner.grant.id, kind, iso_week_of(day)
        )
        for kind in (AccountKind.AVAILABLE, AccountKind.RESERVED, AccountKind.REDEEMED)
    }


async def capacity(session, kitchen, day) -> int:
    return await repository.capacity_used(session, scope=f"approval:{kitchen.approval.id}", day=day)


async def place(session, kitchen, diner, day, now):
    return await service.place_order(
        session,
        actor=diner.me,
        citizen_id=None,
        offer_id=kitchen.offer.id,
        delivery_on=day,
        idempotency_key=f"k-{day.isoformat()}",
        now=now,
    )


async def test_a_pause_cancels_the_orders_inside_and_gives_back_exactly_units_and_capacity(
    session, kitchen, diner
):
    now = noon_before(days_ahead(2))
    days = [days_ahead(n) for n in range(2, 7)]
    placed = {day: await place(session, kitchen, diner, day, now) for day in days}
    after_placing = {day: await units(session, diner, day) for day in days}
    capacity_before = {day: await capacity(session, kitchen, day) for day in days}
    assert all(capacity_before[day] >= 1 for day in days)

    outcome = await pauses.register_pause(
        session,
        actor=diner.me,
        citizen_id=None,
        reason="holiday",
        starts_on=days[1],
        resumes_on=days[4],
        now=now,
    )

    inside = days[1:4]
    assert sorted(o.delivery_on for o in outcome.cancelled_free) == inside
    assert outcome.cancelled_charged == [] and outcome.on_the_way == []
    for day in days:
        order = await repository.get_order(session, placed[day].id)
        after = await units(session, diner, day)
        if day in inside:
            assert order.status == OrderStatus.CANCELLED and order.pause_id == outcome.pause.id
            # exactly one unit back per cancelled order of that week, none used
            same_week = [d for d in inside if iso_week_of(d) == iso_week_of(day)]
            assert after["reserved"] == after_placing[day]["reserved"] - len(same_week)
            assert after["available"] == after_placing[day]["available"] + len(same_week)
            assert after["redeemed"] == after_placing[day]["redeemed"] == 0
            assert await capacity(session, kitchen, day) == capacity_before[day] - 1
        else:
            assert order.status == OrderStatus.PLACED and order.pause_id is None
            assert await capacity(session, kitchen, day) == capacity_before[day]

    # Ordering a paused day is refused with a sentence; nothing is reserved.
    reserved = (await units(session, diner, days[2]))["reserved"]
    with pytest.raises(Conflict, match="paused"):
        await service.place_order(
            session,
            actor=diner.me,
            citizen_id=None,
            offer_id=kitchen.offer.id,
            delivery_on=days[2],
            idempotency_key="again",
            now=now,
        )
    assert (await units(session, diner, days[2]))["reserved"] == reserved


async def test_inside_the_cut_off_the_municipal_rule_decides(session, kitchen, diner, world):
    day = days_ahead(2)
    early = noon_before(day)
    order = await place(session, kitchen, diner, day, early)
    late = local_instant(day - timedelta(days=1), time(15, 0))  # after the 14:00 cut-off

    outcome = await pauses.register_pause(
        session,
        actor=diner.me,
        citizen_id=None,
        reason="family",
        starts_on=day,
        resumes_on=None,
        now=late,
    )
    [charged] = outcome.cancelled_charged
    assert charged.id == order.id and charged.status == OrderStatus.LATE_CANCELLED
    assert (await units(session, diner, day))["redeemed"] == 1
    # the meal was cooked: capacity stays taken
    assert await capacity(session, kitchen, day) == 1


async def test_municipal_rule_makes_a_pause_inside_the_cut_off_free(session, kitchen, diner, world):
    from market.municipalities.models import Municipality

    municipality = await session.get(Municipality, diner.citizen.municipality_id)
    municipality.pause_inside_cutoff_free = True
    await session.flush()
    day = days_ahead(2)
    order = await place(session, kitchen, diner, day, noon_before(day))
    late = local_instant(day - timedelta(days=1), time(15, 0))
    outcome = await pauses.register_pause(
        session,
        actor=diner.me,
        citizen_id=None,
        reason="holiday",
        starts_on=day,
        resumes_on=None,
        now=late,
    )
    assert [o.id for o in outcome.cancelled_free] == [order.id]
    assert (await units(session, diner, day))["redeemed"] == 0
    assert await capacity(session, kitchen, day) == 0


async def test_a_case_worker_recording_a_hospital_stay_cancels_free_whatever_the_cut_off(
    session, kitchen, diner, world
):
    day = days_ahead(2)
    order = await place(session, kitchen, diner, day, noon_before(day))
    late = local_instant(day - timedelta(days=1), time(15, 0))
    case_worker = auth_service.actor_for(world.user("case_worker"))
    outcome = await pauses.register_pause(
        session,
        actor=case_worker,
        citizen_id=diner.citizen.id,
        reason=PauseReason.HOSPITAL.value,
        starts_on=day,
        resumes_on=None,
        now=late,
    )
    assert [o.id for o in outcome.cancelled_free] == [order.id]
    assert (await units(session, diner, day))["reserved"] == 0
    assert (await units(session, diner, day))["redeemed"] == 0
    assert await capacity(session, kitchen, day) == 0
    # who acted for whom, on the pause, on the order's event and in the audit log
    assert outcome.pause.created_by_user_id == case_worker.user_id
    assert outcome.pause.on_behalf_of_user_id == diner.citizen.user_id
    event = (
        await session.execute(
            select(OrderEvent).where(
                OrderEvent.order_id == order.id, OrderEvent.to_status == OrderStatus.CANCELLED
            )
        )
    ).scalar_one()
    assert (event.actor_user_id, event.on_behalf_of_user_id) == (
        case_worker.user_id,
        diner.citizen.user_id,
    )
    logged = (
        await session.execute(
            select(AuditEvent).where(
                AuditEvent.action == "pause.registered",
                AuditEvent.entity_id == str(outcome.pause.id),
            )
        )
    ).scalar_one()
    assert logged.actor_user_id == case_worker.user_id


async def test_standing_orders_skip_the_pause_and_start_again_when_it_is_shortened(
    session, kitchen, diner
):
    now = noon_before(days_ahead(2))
    today = service.today_of(now)
    standing = await service.create_standing_order(
        session,
        actor=diner.me,
        citizen_id=None,
        offer_id=kitchen.offer.id,
        weekdays=[1, 2, 3, 4, 5, 6, 7],
        now=now,
    )
    week = [today + timedelta(days=n) for n in range(1, 8)]

    async def live_days() -> list:
        result = await session.execute(
            select(Order.delivery_on)
            .where(Order.standing_order_id == standing.id, Order.status == OrderStatus.PLACED)
            .order_by(Order.delivery_on)
        )
        return list(result.scalars().all())

    assert await live_days() == week
    outcome = await pauses.register_pause(
        session,
        actor=diner.me,
        citizen_id=None,
        reason="hospital",
        starts_on=week[1],
        resumes_on=week[5],
        now=now,
    )
    assert len(outcome.cancelled_free) == 4
    assert await live_days() == [week[0], week[5], week[6]]
    # the periodic job places nothing inside the pause
    report = await service.place_standing_orders(session, now=now)
    assert report.placed == 0 and report.problems == 0
    assert await live_days() == [week[0], week[5], week[6]]

    # home two days early: those days are ordered again, under new keys
    await pauses.change_pause_end(
        session, actor=diner.me, pause_id=outcome.pause.id, resumes_on=week[3], now=now
    )
    assert await live_days() == [week[0], week[3], week[4], week[5], week[6]]
    again = (
        (
            await session.execute(
                select(Order.idempotency_key).where(
                    Order.standing_order_id == standing.id, Order.delivery_on == week[3]
                )
            )
        )
        .scalars()
        .all()
    )
    assert sorted(again) == [
        f"standing:{standing.id}:{week[3].isoformat()}",
        f"standing:{standing.id}:{week[3].isoformat()}:again-1",
    ]
    # exactly one unit reserved per live order, per week
    for day in week:
        live = [d for d in await live_days() if iso_week_of(d) == iso_week_of(day)]
        assert (await units(session, diner, day))["reserved"] == len(live)

    # a longer stay: the pause is open-ended again and the orders go again
    later = await pauses.change_pause_end(
        session, actor=diner.me, pause_id=outcome.pause.id, resumes_on=None, now=now
    )
    assert len(later.cancelled_free) == 4
    assert await live_days() == [week[0]]


async def test_a_pause_refuses_what_makes_no_sense(session, kitchen, diner):
    now = noon_before(days_ahead(2))
    today = service.today_of(now)

    async def register(starts_on, resumes_on, reason="holiday"):
        return await pauses.register_pause(
            session,
            actor=diner.me,
            citizen_id=None,
            reason=reason,
            starts_on=starts_on,
            resumes_on=resumes_on,
            now=now,
        )

    with pytest.raises(InvalidInput, match="before today"):
        await register(today - timedelta(days=1), None)
    with pytest.raises(InvalidInput, match="after the pause starts"):
        await register(today + timedelta(days=3), today + timedelta(days=3))
    with pytest.raises(InvalidInput, match="why"):
        await register(today + timedelta(days=3), None, reason="moon")
    first = await register(today + timedelta(days=3), today + timedelta(days=6))
    with pytest.raises(Conflict, match="already a pause"):
        await register(today + timedelta(days=5), None)
    # withdrawn before it began: it covers no day and the page no longer lists it
    await pauses.change_pause_end(
        session, actor=diner.me, pause_id=first.pause.id, resumes_on=today, now=now
    )
    view = await pauses.pauses_of(session, actor=diner.me, citizen_id=None, now=now)
    assert view.pauses == []
