"""Queries of the catalogue that read the citizen's own orders."""

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.orders.models import Order


async def recent_providers(
    session: AsyncSession, citizen_id: int, *, since: date, limit: int
) -> list[int]:
    """The providers the citizen has ordered from for a day on or after
    ``since``, the most recently ordered first (at most ``limit``)."""
    last = func.max(col(Order.placed_at))
    result = await session.execute(
        select(col(Order.provider_id))
        .where(col(Order.citizen_id) == citizen_id, col(Order.delivery_on) >= since)
        .group_by(col(Order.provider_id))
        .order_by(last.desc(), col(Order.provider_id))
        .limit(limit)
    )
    return [row[0] for row in result.all()]
