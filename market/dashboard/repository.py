"""Every query of the municipal dashboard: one GROUP BY each, read straight
from the tables of orders, settlement, co-payments and payments."""

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement
from sqlmodel import col

from market.copayments.models import CopaymentStatement
from market.orders import outcome
from market.orders.models import AlertStatus, Order, WelfareAlert
from market.payments.models import CardPayment, CardPaymentStatus
from market.settlement.models import Statement, StatementStatus
from providers.models import Provider


def _month_key(session: AsyncSession, day: ColumnElement[date]) -> ColumnElement[str]:
    """'2026-11' for a date column, in either database."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(day, "YYYY-MM")
    return func.strftime("%Y-%m", day)


async def approved_spend_by_month(
    session: AsyncSession, municipality_id: int, first: date, end: date
) -> dict[str, int]:
    """What approved settlement statements pay, per month ('YYYY-MM' → øre)."""
    result = await session.execute(
        select(col(Statement.month_on), func.sum(col(Statement.total_ore)))
        .where(
            col(Statement.municipality_id) == municipality_id,
            col(Statement.status) == StatementStatus.APPROVED,
            col(Statement.month_on) >= first,
            col(Statement.month_on) < end,
        )
        .group_by(col(Statement.month_on))
    )
    return {month.strftime("%Y-%m"): int(total or 0) for month, total in result.all()}


async def statement_copayments_by_month(
    session: AsyncSession, municipality_id: int, first: date, end: date
) -> dict[str, int]:
    result = await session.execute(
        select(col(CopaymentStatement.month_on), func.sum(col(CopaymentStatement.total_ore)))
        .where(
            col(CopaymentStatement.municipality_id) == municipality_id,
            col(CopaymentStatement.month_on) >= first,
            col(CopaymentStatement.month_on) < end,
        )
        .group_by(col(CopaymentStatement.month_on))
    )
    return {month.strftime("%Y-%m"): int(total or 0) for month, total in result.all()}


async def card_copayments_by_month(
    session: AsyncSession, municipality_id: int, first: date, end: date
) -> dict[str, int]:
    """Captured card payments, by the month of the meal they paid for."""
    month = _month_key(session, col(Order.delivery_on))  # type: ignore[arg-type]
    result = await session.execute(
        select(month, func.sum(col(CardPayment.amount_ore)))
        .join(Order, col(Order.id) == col(CardPayment.order_id))
        .where(
            col(CardPayment.municipality_id) == municipality_id,
            col(CardPayment.status) == CardPaymentStatus.CAPTURED,
            col(Order.delivery_on) >= first,
            col(Order.delivery_on) < end,
        )
        .group_by(month)
    )
    return {key: int(total or 0) for key, total in result.all()}


@dataclass(frozen=True)
class ProviderMonth:
    provider_id: int
    provider_name: str
    units_delivered: int
    delivered: int
    on_time: int
    provider_faults: int


async def deliveries_by_provider(
    session: AsyncSession, municipality_id: int, first: date, end: date
) -> list[ProviderMonth]:
    """Per provider, the month's deliveries, those by the end of the window,
    and the failures that were the provider's fault (DESIGN.md's outcome table)."""
    delivered, on_time, fault = outcome.IS_DELIVERED, outcome.IS_ON_TIME, outcome.IS_PROVIDER_FAULT
    result = await session.execute(
        select(
            col(Provider.id),
            col(Provider.name),
            func.sum(case((delivered, col(Order.units)), else_=0)),
            func.sum(case((delivered, 1), else_=0)),
            func.sum(case((on_time, 1), else_=0)),
            func.sum(case((fault, 1), else_=0)),
        )
        .join(Provider, col(Provider.id) == col(Order.provider_id))
        .where(
            col(Order.municipality_id) == municipality_id,
            col(Order.delivery_on) >= first,
            col(Order.delivery_on) < end,
        )
        .group_by(col(Provider.id), col(Provider.name))
        .order_by(col(Provider.name))
    )
    rows = [
        ProviderMonth(pid, name, int(units or 0), int(d or 0), int(t or 0), int(f or 0))
        for pid, name, units, d, t, f in result.all()
    ]
    return [r for r in rows if r.delivered or r.provider_faults]


@dataclass(frozen=True)
class OpenAlerts:
    count: int
    oldest_at: datetime | None


async def open_alerts(session: AsyncSession, municipality_id: int) -> OpenAlerts:
    row = (
        await session.execute(
            select(func.count(col(WelfareAlert.id)), func.min(col(WelfareAlert.raised_at))).where(
                col(WelfareAlert.municipality_id) == municipality_id,
                col(WelfareAlert.status) == AlertStatus.OPEN,
            )
        )
    ).one()
    oldest = row[1]
    if isinstance(oldest, str):  # SQLite returns MIN() of a datetime as text
        oldest = datetime.fromisoformat(oldest)
    return OpenAlerts(count=int(row[0]), oldest_at=oldest)
