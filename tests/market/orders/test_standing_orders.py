"""Standing weekly orders: placed ahead by the periodic job with one key per day,
a sentence for the citizen when a day cannot be ordered, stop and resume."""

from datetime import date, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from market import tick
from market.auth import service as auth_service
from market.clock import local_instant
from market.orders import service
from market.orders.models import Order, OrderStatus, StandingOrder
from tests.market.orders.conftest import sign_in_citizen
from vouchers import service as vouchers

EVERY_DAY = [1, 2, 3, 4, 5, 6, 7]


def morning(today: date):
    """09:00 today: before the 14:00 cut-off for tomorrow."""
    return local_instant(today, time(9, 0))


async def orders_of(session, standing_id: int) -> list[Order]:
    result = await session.execute(
        select(Order).where(Order.standing_order_id == standing_id).order_by(Order.delivery_on)
    )
    return list(result.scalars().all())


async def test_places_a_week_ahead_once_acting_as_the_citizen(session, world, kitchen, diner):
    today = vouchers.today_in_copenhagen()
    case_worker = auth_service.actor_for(world.user("case_worker"))
    standing = await service.create_standing_order(
        session,
        actor=case_worker,
        citizen_id=diner.citizen.id,
        offer_id=kitchen.offer.id,
        weekdays=[1, 2, 3, 4, 5],
        now=morning(today),
    )
    placed = await orders_of(session, standing.id)
    wanted = [today + timedelta(days=n) for n in range(1, 8)]
    wanted = [d for d in wanted if d.isoweekday() <= 5]
    assert [o.delivery_on for o in placed] == wanted
    for order in placed:
        assert order.idempotency_key == f"standing:{standing.id}:{order.delivery_on.isoformat()}"
        # the citizen's own instruction: placed as the citizen; the creator is on the standing order
        assert order.placed_by_user_id == diner.citizen.user_id
        assert order.on_behalf_of_user_id is None
    assert standing.created_by_user_id == case_worker.user_id
    assert standing.placed_through_on == today + timedelta(days=7)

    again = await service.place_standing_orders(session, today=today, now=morning(today))
    assert (again.standing_orders, again.placed, again.problems) == (1, 0, 0)
    assert len(await orders_of(session, standing.id)) == len(wanted)

    tomorrow = today + timedelta(days=1)
    later = await service.place_standing_orders(session, today=tomorrow, now=morning(tomorrow))
    eighth = today + timedelta(days=8)
    assert later.placed == (1 if eighth.isoweekday() <= 5 else 0)


async def test_reports_a_sentence_when_units_run_out_and_catches_up(session, kitchen, diner):
    diner.citizen.language = "en"
    today = vouchers.today_in_copenhagen()
    next_monday = today + timedelta(days=7 - today.weekday())
    await vouchers.reserve(
        session,
        grant_id=diner.grant.id,
        delivery_on=next_monday,
        units=7,
        idempotency_key="next-week-taken",
        actor=diner.me,
    )
    now = morning(today)
    standing = await service.create_standing_order(
        session,
        actor=diner.me,
        citizen_id=None,
        offer_id=kitchen.offer.id,
        weekdays=EVERY_DAY,
        now=now,
    )
    placed = await orders_of(session, standing.id)
    assert [o.delivery_on for o in placed] == [
        today + timedelta(days=n) for n in range(1, 8) if today + timedelta(days=n) < next_monday
    ]
    week = vouchers.week_number(vouchers.iso_week_of(next_monday))
    day_words = f"{next_monday:%A} {next_monday.day} {next_monday:%B}"
    assert standing.last_problem == (
        f"We could not order for {day_words}: no voucher units are left for week {week}."
    )
    assert standing.last_problem_at == now
    assert standing.placed_through_on == next_monday - timedelta(days=1)

    # units come back (e.g. cancellations): the next round places the missing days
    await vouchers.release(
        session,
        grant_id=diner.grant.id,
        delivery_on=next_monday,
        units=7,
        idempotency_key="next-week-freed",
        actor=diner.me,
    )
    report = await service.place_standing_orders(session, today=today, now=now)
    assert report.problems == 0 and report.placed == 7 - len(placed)
    await session.refresh(standing)
    assert standing.last_problem is None
    assert standing.placed_through_on == today + timedelta(days=7)
    assert len(await orders_of(session, standing.id)) == 7


async def test_stop_and_resume(session, kitchen, diner):
    today = vouchers.today_in_copenhagen()
    standing = await service.create_standing_order(
        session,
        actor=diner.me,
        citizen_id=None,
        offer_id=kitchen.offer.id,
        weekdays=[today.isoweekday()],
        now=morning(today),
    )
    [first] = await orders_of(session, standing.id)
    assert first.delivery_on == today + timedelta(days=7)
    stopped = await service.change_standing_order(
        session, actor=diner.me, standing_id=standing.id, active=False
    )
    assert stopped.active is False
    later = today + timedelta(days=7)
    report = await service.place_standing_orders(session, today=later, now=morning(later))
    assert report.standing_orders == 0
    assert len(await orders_of(session, standing.id)) == 1
    await service.change_standing_order(
        session, actor=diner.me, standing_id=standing.id, active=True
    )
    report = await service.place_standing_orders(session, today=later, now=morning(later))
    assert report.standing_orders == 1 and report.placed == 1
    assert first.status == OrderStatus.PLACED  # stopping never cancels what was placed


async def test_problem_shows_on_my_orders_in_danish(client, session, kitchen, diner):
    today = vouchers.today_in_copenhagen()
    standing = StandingOrder(
        citizen_id=diner.citizen.id,
        offer_id=kitchen.offer.id,
        weekdays="1,2,3,4,5,6,7",
        created_by_user_id=diner.citizen.user_id,
    )
    session.add(standing)
    await session.flush()
    next_monday = today + timedelta(days=7 - today.weekday())
    await vouchers.reserve(
        session,
        grant_id=diner.grant.id,
        delivery_on=next_monday,
        units=7,
        idempotency_key="next-week-taken",
        actor=diner.me,
    )
    await service.place_standing_orders(session, today=today, now=morning(today))
    await session.refresh(standing)
    assert standing.last_problem.startswith("Vi kunne ikke bestille til mandag ")
    await session.commit()
    await sign_in_citizen(client, session, diner)
    page = await client.get("/orders")
    assert standing.last_problem in page.text


async def test_market_tick_places_standing_orders(session, settings, kitchen, diner):
    session.add(
        StandingOrder(
            citizen_id=diner.citizen.id,
            offer_id=kitchen.offer.id,
            weekdays="1,2,3,4,5,6,7",
            created_by_user_id=diner.citizen.user_id,
        )
    )
    await session.commit()
    # Each job of the round is its own unit of work; here a savepoint of the test's
    # transaction, so the round is rolled back with the test.
    sessions = async_sessionmaker(
        bind=session.bind, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    report = await tick.run_once(settings, sessions)
    assert report["standing_orders"]["standing_orders"] == 1
    # whatever the clock says, tomorrow may be past its cut-off: the other six are placed
    assert report["standing_orders"]["placed"] in (6, 7)
    assert report["standing_orders"]["problems"] == 0
