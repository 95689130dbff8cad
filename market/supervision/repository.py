"""Every query of supervision: two grouped SELECTs per municipality and period,
one over orders and one over ratings, never a query per provider."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement
from sqlmodel import col

from market.orders import outcome
from market.orders.models import Order, Rating


@dataclass(frozen=True)
class OrderFigures:
    delivered: int = 0
    late: int = 0
    provider_failures: int = 0


@dataclass(frozen=True)
class RatingFigures:
    ratings: int = 0
    stars: int = 0
    complaints: int = 0


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def order_figures(
    session: AsyncSession, *, municipality_id: int, first_day: date, last_day: date
) -> dict[int, OrderFigures]:
    result = await session.execute(
        select(
            col(Order.provider_id),
            _count(outcome.IS_DELIVERED),
            _count(outcome.IS_LATE),
            _count(outcome.IS_PROVIDER_FAULT),
        )
        .where(
            col(Order.municipality_id) == municipality_id,
            col(Order.delivery_on) >= first_day,
            col(Order.delivery_on) <= last_day,
        )
        .group_by(col(Order.provider_id))
    )
    return {
        row[0]: OrderFigures(delivered=int(row[1]), late=int(row[2]), provider_failures=int(row[3]))
        for row in result.all()
    }


async def rating_figures(
    session: AsyncSession, *, municipality_id: int, first_day: date, last_day: date
) -> dict[int, RatingFigures]:
    """Ratings of meals delivered in the period; a complaint is 1 or 2 stars with a comment."""
    complaint = and_(col(Rating.stars) <= 2, func.length(func.trim(col(Rating.comment))) > 0)
    result = await session.execute(
        select(
            col(Rating.provider_id),
            func.count(col(Rating.id)),
            func.coalesce(func.sum(col(Rating.stars)), 0),
            _count(complaint),
        )
        .join(Order, col(Order.id) == col(Rating.order_id))
        .where(
            col(Order.municipality_id) == municipality_id,
            col(Order.delivery_on) >= first_day,
            col(Order.delivery_on) <= last_day,
        )
        .group_by(col(Rating.provider_id))
    )
    return {
        row[0]: RatingFigures(ratings=int(row[1]), stars=int(row[2]), complaints=int(row[3]))
        for row in result.all()
    }
