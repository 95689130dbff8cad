"""Demo data for the settlement (called by market.demo.seed after ordering,
which placed and fulfilled the last two months' meals through the order flow):
risk-sharing terms on the Aarhus kitchen's contract, the earlier month settled
and approved (four eyes) with an adjustment, the last month run as a draft for
the second admin to approve."""

from datetime import date, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.auth import service as auth_service
from market.auth.models import User
from market.clock import first_of_month, today
from market.config import Settings
from market.municipalities.models import Municipality
from market.orders.models import Order
from market.settlement import service
from providers.models import ContractTerms

# DESIGN.md's worked example, scaled to the demo kitchen's few dozen meals a
# month, so the statements show a guarantee shortfall, a rebate and the SLA.
DEMO_TERMS = {
    "rebate_threshold_units": 30,
    "rebate_bp": 500,
    "min_units_per_month": 35,
    "shortfall_rate_bp": 5000,
    "on_time_target_bp": 9500,
    "malus_bp_per_point": 100,
    "malus_cap_bp": 500,
    "bonus_threshold_bp": 9800,
    "bonus_bp": 200,
    "citizen_absent_share_bp": 7500,
    "late_cancel_share_bp": 5000,
}


def past_months() -> tuple[date, date]:
    """The month before last and last month (their first days)."""
    last = first_of_month(first_of_month(today()) - timedelta(days=1))
    return first_of_month(last - timedelta(days=1)), last


async def seed(
    session: AsyncSession,
    *,
    municipalities: list[Municipality],
    users: dict[str, User],
    password: str,
    settings: Settings,
) -> list[tuple[str, str]]:
    aarhus = municipalities[0]
    earlier, last = past_months()
    found = await session.execute(
        select(col(Order.approval_id))
        .where(col(Order.municipality_id) == aarhus.id, col(Order.delivery_on) >= earlier)
        .distinct()
    )
    approval_ids = sorted(found.scalars())
    if not approval_ids:
        return []
    # The contract came with risk-sharing terms from its first version (a new
    # version can only start in the future; see the approval's terms page).
    await session.execute(
        update(ContractTerms)
        .where(col(ContractTerms.approval_id).in_(approval_ids), col(ContractTerms.version) == 1)
        .values(**DEMO_TERMS)
    )
    admin = auth_service.actor_for(users["admin@aarhus.example"])
    second = auth_service.actor_for(users["admin2@aarhus.example"])
    await service.run_month(session, actor=admin, month_on=earlier)
    approved = await service.approve_month(session, actor=second, month_on=earlier)
    if approved and approved[0].id is not None:
        await service.add_adjustment(
            session,
            actor=admin,
            statement_id=approved[0].id,
            amount_ore=-4250,
            reason="Halv pris for en levering, der kom kold frem (klage 2026-117)",
        )
    await service.run_month(session, actor=admin, month_on=last)
    return [("settlement: a month to approve (second admin)", "admin2@aarhus.example  /settlement")]
