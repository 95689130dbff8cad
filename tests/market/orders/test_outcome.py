"""The order-outcome classification: its Python and SQL forms agree for every
status × failure reason × timing, so what settlement pays and what the
dashboard and supervision report cannot drift apart."""

import itertools
from datetime import time, timedelta

import pytest
from sqlalchemy import select
from sqlmodel import col

from market.clock import local_instant, today
from market.orders import outcome
from market.orders.models import FailureReason, Order, OrderStatus
from market.orders.outcome import BILLABLE, DELIVERED, ON_TIME_ATTEMPTS, Outcome

REASONS = [None, *FailureReason]
TIMINGS = {"not recorded": None, "early": -60, "at the end": 0, "late": 20}

CASES = list(itertools.product(OrderStatus, REASONS, TIMINGS))

PREDICATES = {
    "delivered": (outcome.IS_DELIVERED, DELIVERED),
    "on_time": (outcome.IS_ON_TIME, {Outcome.ON_TIME}),
    "late": (outcome.IS_LATE, {Outcome.LATE}),
    "provider_fault": (outcome.IS_PROVIDER_FAULT, {Outcome.PROVIDER_FAULT}),
    "absent": (outcome.IS_ABSENT, {Outcome.CITIZEN_ABSENT}),
    "late_cancelled": (outcome.IS_LATE_CANCELLED, {Outcome.LATE_CANCELLED}),
    "unfinished": (outcome.IS_UNFINISHED, {Outcome.UNFINISHED}),
    "billable": (outcome.IS_BILLABLE, BILLABLE),
    "attempt": (outcome.IS_ON_TIME_ATTEMPT, ON_TIME_ATTEMPTS),
    "other": (outcome.sql_is(Outcome.OTHER), {Outcome.OTHER}),
}


def test_the_python_form_by_hand():
    end = local_instant(today(), time(13, 0))
    assert outcome.classify(OrderStatus.DELIVERED, None, end, end) == Outcome.ON_TIME
    late = end + timedelta(seconds=1)
    assert outcome.classify(OrderStatus.DELIVERED, None, late, end) == Outcome.LATE
    assert outcome.classify(OrderStatus.DELIVERED, None, None, end) == Outcome.LATE
    for reason in (FailureReason.NOT_DELIVERED, FailureReason.TOO_LATE, FailureReason.WRONG_MEAL):
        assert outcome.classify(OrderStatus.FAILED, reason, None, end) == Outcome.PROVIDER_FAULT
    absent = outcome.classify(OrderStatus.FAILED, FailureReason.CITIZEN_ABSENT, None, end)
    assert absent == Outcome.CITIZEN_ABSENT and absent in BILLABLE
    assert Outcome.PROVIDER_FAULT not in BILLABLE and Outcome.PROVIDER_FAULT in ON_TIME_ATTEMPTS
    assert outcome.classify(OrderStatus.CANCELLED, None, None, end) == Outcome.OTHER
    assert outcome.classify(OrderStatus.PLACED, None, None, end) == Outcome.UNFINISHED


@pytest.mark.parametrize("name", sorted(PREDICATES))
async def test_sql_and_python_agree_for_every_combination(session, world, kitchen, diner, name):
    day = today() - timedelta(days=3)
    window_end = local_instant(day, time(13, 0))
    orders: dict[int, Outcome] = {}
    for n, (status, reason, timing) in enumerate(CASES):
        offset = TIMINGS[timing]
        order = Order(
            municipality_id=world.municipality.id,
            citizen_id=diner.citizen.id,
            grant_id=diner.grant.id,
            provider_id=kitchen.approval.provider_id,
            approval_id=kitchen.approval.id,
            offer_id=kitchen.offer.id,
            delivery_on=day,
            unit_price_ore=8500,
            copayment_ore=6000,
            status=status,
            failure_reason=reason,
            cutoff_at=window_end - timedelta(days=1),
            accept_by_at=window_end - timedelta(hours=4),
            window_end_at=window_end,
            delivered_at=None if offset is None else window_end + timedelta(minutes=offset),
            idempotency_key=f"outcome-{n}",
            placed_by_user_id=diner.me.user_id,
        )
        session.add(order)
        await session.flush()
        assert order.id is not None
        expected = outcome.classify(status, reason, order.delivered_at, window_end)
        assert outcome.outcome_of(order) == expected
        orders[order.id] = expected

    ids = sorted(orders)
    rows = await session.execute(
        select(col(Order.id), outcome.OUTCOME_SQL).where(col(Order.id).in_(ids))
    )
    assert {order_id: Outcome(name_) for order_id, name_ in rows.all()} == orders

    condition, outcomes = PREDICATES[name]
    matching = await session.execute(select(col(Order.id)).where(col(Order.id).in_(ids), condition))
    assert set(matching.scalars()) == {i for i, o in orders.items() if o in outcomes}
    assert len(CASES) == len(OrderStatus) * 5 * 4
