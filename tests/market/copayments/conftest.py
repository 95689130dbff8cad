"""Orders of an ended month, inserted directly with Core (the order flow is
tested in tests/market/orders): each test states how every order ended."""

import itertools
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from market.clock import local_instant, today
from market.orders.models import FailureReason, Order, OrderStatus
from market.payments.models import CardPayment, CardPaymentStatus
from tests.market.orders.conftest import Diner, Kitchen, caps, diner, kitchen  # noqa: F401

_keys = itertools.count(1)


def last_month() -> date:
    return (today().replace(day=1) - timedelta(days=1)).replace(day=1)


async def insert_order(
    session: AsyncSession,
    kitchen: Kitchen,  # noqa: F811 (the fixture is imported for the tests)
    diner: Diner,  # noqa: F811
    day: date,
    status: OrderStatus,
    *,
    failure_reason: FailureReason | None = None,
    copayment_ore: int = 6000,
    unit_price_ore: int = 8500,
    late_minutes: int | None = None,
    provider_id: int | None = None,
) -> int:
    """One order; a delivered one is delivered on time unless ``late_minutes``."""
    window_end = local_instant(day, time(13, 0))
    delivered_at: datetime | None = None
    if status == OrderStatus.DELIVERED:
        delivered_at = window_end + timedelta(minutes=late_minutes if late_minutes else -30)
    result = await session.execute(
        insert(Order)
        .values(
            municipality_id=diner.citizen.municipality_id,
            citizen_id=diner.citizen.id,
            grant_id=diner.grant.id,
            provider_id=provider_id or kitchen.approval.provider_id,
            approval_id=kitchen.approval.id,
            offer_id=kitchen.offer.id,
            delivery_on=day,
            units=1,
            unit_price_ore=unit_price_ore,
            copayment_ore=copayment_ore,
            status=status,
            failure_reason=failure_reason,
            cutoff_at=local_instant(day - timedelta(days=1), time(14, 0)),
            accept_by_at=local_instant(day - timedelta(days=1), time(18, 0)),
            window_end_at=window_end,
            delivered_at=delivered_at,
            idempotency_key=f"core-{next(_keys)}-{day}-{status}",
            placed_by_user_id=diner.me.user_id,
            placed_at=local_instant(day - timedelta(days=2), time(9, 0)),
        )
        .returning(Order.id)
    )
    return result.scalar_one()


async def insert_card_payment(
    session: AsyncSession,
    diner: Diner,  # noqa: F811
    order_id: int,
    status: CardPaymentStatus,
) -> None:
    await session.execute(
        insert(CardPayment).values(
            order_id=order_id,
            citizen_id=diner.citizen.id,
            municipality_id=diner.citizen.municipality_id,
            amount_ore=6000,
            status=status,
            idempotency_key=f"copay:{order_id}:authorize",
            attempts=0,
            next_attempt_at=local_instant(today(), time(0, 0)),
            created_at=local_instant(today(), time(0, 0)),
            updated_at=local_instant(today(), time(0, 0)),
        )
    )


@pytest.fixture
def month() -> date:
    return last_month()
