"""A contract (approval with risk-sharing terms) of the kitchen in Aarhus, and
months of orders inserted directly with Core (fast, any past month)."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import count

import pytest
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.permissions import Actor
from market.clock import first_of_month, last_of_month, local_instant, today
from market.orders.models import FailureReason, Order, OrderEvent, OrderStatus
from providers.models import Approval, ContractTerms
from tests.factories import World
from tests.market.orders.conftest import Diner, Kitchen, diner, kitchen  # noqa: F401 (fixtures)
from tests.providers.conftest import actor
from tests.vouchers.conftest import caps  # noqa: F401 (fixture)

# The two months before this one: both have ended, so both can be settled.
PREVIOUS = first_of_month(first_of_month(today()) - timedelta(days=1))
EARLIER = first_of_month(PREVIOUS - timedelta(days=1))

DESIGN_TERMS = {
    "unit_price_ore": 8500,
    "rebate_threshold_units": 1200,
    "rebate_bp": 500,
    "min_units_per_month": 1000,
    "shortfall_rate_bp": 5000,
    "on_time_target_bp": 9500,
    "malus_bp_per_point": 100,
    "malus_cap_bp": 500,
    "bonus_threshold_bp": 9800,
    "bonus_bp": 200,
    "citizen_absent_share_bp": 7500,
    "late_cancel_share_bp": 5000,
}
PLAIN_TERMS = {
    "unit_price_ore": 8500,
    "rebate_threshold_units": None,
    "rebate_bp": 0,
    "min_units_per_month": 0,
    "shortfall_rate_bp": 0,
    "on_time_target_bp": 0,
    "malus_bp_per_point": 0,
    "malus_cap_bp": 0,
    "bonus_threshold_bp": None,
    "bonus_bp": 0,
    "citizen_absent_share_bp": 0,
    "late_cancel_share_bp": 0,
}

_keys = count(1)


@dataclass
class Contract:
    kitchen: Kitchen
    diner: Diner
    world: World
    admin: Actor
    admin2: Actor
    auditor: Actor
    # Plain ids, read once: a page request's unit of work may expire ORM objects.
    approval_id: int
    ids: dict[str, int]


async def set_terms(session: AsyncSession, contract: Contract, **terms: object) -> None:
    """Version 1 of the approval's terms, in force since long before the months tested."""
    await session.execute(
        update(ContractTerms)
        .where(ContractTerms.approval_id == contract.approval_id)
        .values(valid_from=date(2020, 1, 1), **{**PLAIN_TERMS, **terms})
    )


@pytest.fixture
async def contract(session: AsyncSession, world: World, kitchen: Kitchen, diner: Diner) -> Contract:  # noqa: F811
    await session.execute(
        update(Approval)
        .where(Approval.id == kitchen.approval.id)
        .values(valid_from=date(2020, 1, 1))
    )
    made = Contract(
        kitchen=kitchen,
        diner=diner,
        world=world,
        admin=actor(world, "admin"),
        admin2=actor(world, "admin2"),
        auditor=actor(world, "auditor"),
        approval_id=kitchen.approval.id,
        ids={
            "municipality": world.municipality.id,
            "citizen": diner.citizen.id,
            "grant": diner.grant.id,
            "provider": world.provider.id,
            "offer": kitchen.offer.id,
            "placed_by": diner.me.user_id,
        },
    )
    await set_terms(session, made, **DESIGN_TERMS)
    await session.commit()
    return made


def _row(contract: Contract, day: date, status: OrderStatus, **extra: object) -> dict:
    window_end = local_instant(day, time(13, 0))
    return {
        "municipality_id": contract.ids["municipality"],
        "citizen_id": contract.ids["citizen"],
        "grant_id": contract.ids["grant"],
        "provider_id": contract.ids["provider"],
        "approval_id": contract.approval_id,
        "offer_id": contract.ids["offer"],
        "delivery_on": day,
        "units": 1,
        "unit_price_ore": 8500,
        "copayment_ore": 6000,
        "status": status,
        "failure_reason": None,
        "cutoff_at": local_instant(day - timedelta(days=1), time(14, 0)),
        "accept_by_at": local_instant(day - timedelta(days=1), time(18, 0)),
        "window_end_at": window_end,
        "delivered_at": None,
        "idempotency_key": f"settlement-test:{next(_keys)}",
        "placed_by_user_id": contract.ids["placed_by"],
        "placed_at": datetime(2020, 1, 1, tzinfo=UTC),
        **extra,
    }


async def insert_month(
    session: AsyncSession,
    contract: Contract,
    month_on: date,
    *,
    on_time: int = 0,
    late: int = 0,
    provider_fault: int = 0,
    absent: int = 0,
    late_cancelled: int = 0,
    cancelled: int = 0,
    unfinished: int = 0,
) -> None:
    """The month's orders, spread over its days, in one multi-row INSERT per kind."""
    days = [
        month_on + timedelta(days=i) for i in range((last_of_month(month_on) - month_on).days + 1)
    ]
    faults = [FailureReason.NOT_DELIVERED, FailureReason.TOO_LATE, FailureReason.WRONG_MEAL]
    rows: list[dict] = []
    for i in range(on_time):
        day = days[i % len(days)]
        delivered = local_instant(day, time(12, 30))
        rows.append(_row(contract, day, OrderStatus.DELIVERED, delivered_at=delivered))
    for i in range(late):
        day = days[i % len(days)]
        delivered = local_instant(day, time(13, 30))
        rows.append(_row(contract, day, OrderStatus.DELIVERED, delivered_at=delivered))
    for i in range(provider_fault):
        rows.append(
            _row(contract, days[i % len(days)], OrderStatus.FAILED, failure_reason=faults[i % 3])
        )
    for i in range(absent):
        rows.append(
            _row(
                contract,
                days[i % len(days)],
                OrderStatus.FAILED,
                failure_reason=FailureReason.CITIZEN_ABSENT,
            )
        )
    rows += [
        _row(contract, days[i % len(days)], OrderStatus.LATE_CANCELLED)
        for i in range(late_cancelled)
    ]
    rows += [_row(contract, days[i % len(days)], OrderStatus.CANCELLED) for i in range(cancelled)]
    statuses = [OrderStatus.PLACED, OrderStatus.ACCEPTED, OrderStatus.OUT_FOR_DELIVERY]
    rows += [_row(contract, days[i % len(days)], statuses[i % 3]) for i in range(unfinished)]
    for start in range(0, len(rows), 500):
        await session.execute(insert(Order), rows[start : start + 500])
    await session.commit()


async def add_order_event(
    session: AsyncSession, order_id: int, to_status: OrderStatus, user_id: int
) -> None:
    await session.execute(
        insert(OrderEvent).values(
            order_id=order_id,
            from_status=None,
            to_status=to_status,
            actor_user_id=user_id,
            occurred_at=datetime(2020, 1, 1, tzinfo=UTC),
        )
    )
