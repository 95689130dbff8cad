"""Demo data for the settlement (called by market.demo.seed after ordering):
two past months of orders for the approved kitchen in Aarhus under
risk-sharing terms; the earlier month settled and approved (four eyes) with an
adjustment, the last month run as a draft for the second admin to approve."""

import random
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth import service as auth_service
from market.auth.models import User
from market.clock import local_instant, today
from market.config import Settings
from market.municipalities.models import Municipality
from market.orders.models import FailureReason, Order, OrderEvent, OrderStatus
from market.settlement import service
from providers.models import ContractTerms

# The demo's contract: DESIGN.md's worked example, scaled to a small kitchen.
DEMO_TERMS = {
    "rebate_threshold_units": 80,
    "rebate_bp": 500,
    "min_units_per_month": 40,
    "shortfall_rate_bp": 5000,
    "on_time_target_bp": 9500,
    "malus_bp_per_point": 100,
    "malus_cap_bp": 500,
    "bonus_threshold_bp": 9800,
    "bonus_bp": 200,
    "citizen_absent_share_bp": 7500,
    "late_cancel_share_bp": 5000,
}


async def _month_of_orders(
    session: AsyncSession,
    templates: list[Order],
    month_on: date,
    staff_id: int | None,
    rng: random.Random,
) -> None:
    """Every template diner's lunch on every day of the month, with outcomes
    drawn like a real month's (mostly on time), in one INSERT; each order gets
    the event of how it ended."""
    rows = []
    day = month_on
    while day <= service.last_of_month(month_on):
        for n, template in enumerate(templates):
            window_end = local_instant(day, time(13, 0))
            roll = rng.random()
            status, reason, delivered_at = OrderStatus.DELIVERED, None, None
            if roll < 0.85:
                delivered_at = local_instant(day, time(12, rng.randrange(0, 59)))
            elif roll < 0.92:
                delivered_at = local_instant(day, time(13, rng.randrange(5, 50)))
            elif roll < 0.95:
                status, reason = OrderStatus.FAILED, FailureReason.NOT_DELIVERED
            elif roll < 0.97:
                status, reason = OrderStatus.FAILED, FailureReason.CITIZEN_ABSENT
            elif roll < 0.985:
                status = OrderStatus.LATE_CANCELLED
            else:
                status = OrderStatus.CANCELLED
            rows.append(
                {
                    "municipality_id": template.municipality_id,
                    "citizen_id": template.citizen_id,
                    "grant_id": template.grant_id,
                    "provider_id": template.provider_id,
                    "approval_id": template.approval_id,
                    "offer_id": template.offer_id,
                    "delivery_on": day,
                    "units": 1,
                    "unit_price_ore": template.unit_price_ore,
                    "copayment_ore": template.copayment_ore,
                    "status": status,
                    "failure_reason": reason,
                    "cutoff_at": local_instant(day - timedelta(days=1), time(14, 0)),
                    "accept_by_at": local_instant(day - timedelta(days=1), time(20, 0)),
                    "window_end_at": window_end,
                    "delivered_at": delivered_at,
                    "idempotency_key": f"demo-settlement:{day}:{n}",
                    "placed_by_user_id": template.placed_by_user_id,
                    "placed_at": local_instant(day - timedelta(days=2), time(10, 0)),
                }
            )
        day += timedelta(days=1)
    result = await session.execute(insert(Order).returning(Order.id, Order.status), rows)
    events = [
        {
            "order_id": order_id,
            "from_status": None,
            "to_status": status,
            "actor_user_id": staff_id,
            "occurred_at": datetime.now(UTC),
        }
        for order_id, status in result.all()
    ]
    await session.execute(insert(OrderEvent), events)


async def seed(
    session: AsyncSession,
    *,
    municipalities: list[Municipality],
    users: dict[str, User],
    password: str,
    settings: Settings,
) -> list[tuple[str, str]]:
    aarhus = municipalities[0]
    # Today's demo orders show who eats from which kitchen; the past months copy them.
    found = await session.execute(
        select(Order).where(Order.municipality_id == aarhus.id).order_by(Order.citizen_id, Order.id)
    )
    templates: dict[int, Order] = {}
    for order in found.scalars():
        templates.setdefault(order.citizen_id, order)
    if not templates:
        return []
    approval_ids = sorted({o.approval_id for o in templates.values()})
    # Risk-sharing terms on the contract's current version (the demo's history
    # starts with them; versioned terms are edited on the approval's page).
    await session.execute(
        update(ContractTerms)
        .where(ContractTerms.approval_id.in_(approval_ids), ContractTerms.version == 1)
        .values(**DEMO_TERMS)
    )
    staff = await session.execute(select(User.id).where(User.email == "kok@smagfuldt.example"))
    staff_id = staff.scalar_one_or_none()
    last = service.first_of_month(service.first_of_month(today()) - timedelta(days=1))
    earlier = service.first_of_month(last - timedelta(days=1))
    rng = random.Random(2026)
    for month_on in (earlier, last):
        await _month_of_orders(session, list(templates.values()), month_on, staff_id, rng)

    admin = auth_service.actor_for(users["admin@aarhus.example"])
    second = auth_service.actor_for(users["admin2@aarhus.example"])
    await service.run_month(session, actor=admin, month_on=earlier)
    approved = await service.approve_month(session, actor=second, month_on=earlier)
    if approved and approved[0].id is not None:
        await service.add_adjustment(
            session,
            actor=admin,
            statement_id=approved[0].id,
            amount_ore=-8500,
            reason="En levering talt to gange (kørselsliste 14)",
        )
    await service.run_month(session, actor=admin, month_on=last)
    return [("settlement: a month to approve (second admin)", "admin2@aarhus.example  /settlement")]
