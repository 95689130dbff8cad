"""Every query of the municipal dashboard: one GROUP BY each, read straight
from the tables of orders, settlement, co-payments and payments."""

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

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
        select(Statement.month_on, func.sum(Statement.total_ore))
        .where(
            Statement.municipality_id == municipality_id,
            Statement.status == StatementStatus.APPROVED,
            Statement.month_on >= first,
            Statement.month_on < end,
        )
        .group_by(Statement.month_on)
    )
    return {month.strftime("%Y-%m"): int(total or 0) for month, total in result.all()}


async def statement_copayments_by_month(
    session: AsyncSession, municipality_id: int, first: date, end: date
) -> dict[str, int]:
    result = await session.execute(
        select(CopaymentStatement.month_on, func.sum(CopaymentStatement.total_ore))
        .where(
            CopaymentStatement.municipality_id == municipality_id,
            CopaymentStatement.month_on >= first,
            CopaymentStatement.month_on < end,
        )
        .group_by(CopaymentStatement.month_on)
    )
    return {month.strftime("%Y-%m"): int(total or 0) for month, total in result.all()}


async def card_copayments_by_month(
    session: AsyncSession, municipality_id: int, first: date, end: date
) -> dict[str, int]:
    """Captured card payments, by the month of the meal they paid for."""
    month = _month_key(session, Order.delivery_on)  # type: ignore[arg-type]
    result = await session.execute(
        select(month, func.sum(CardPayment.amount_ore))
        .join(Order, Order.id == CardPayment.order_id)  # type: ignore[arg-type]
        .where(
            CardPayment.municipality_id == municipality_id,
            CardPayment.status == CardPaymentStatus.CAPTURED,
            Order.delivery_on >= first,
            Order.delivery_on < end,
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
            Provider.id,
            Provider.name,
            func.sum(case((delivered, Order.units), else_=0)),
            func.sum(case((delivered, 1), else_=0)),
            func.sum(case((on_time, 1), else_=0)),
            func.sum(case((fault, 1), else_=0)),
        )
        .join(Provider, Provider.id == Order.provider_id)  # type: ignore[arg-type]
        .where(
            Order.municipality_id == municipality_id,
            Order.delivery_on >= first,
            Order.delivery_on < end,
        )
        .group_by(Provider.id, Provider.name)
        .order_by(Provider.name)
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
            select(func.count(WelfareAlert.id), func.min(WelfareAlert.raised_at)).where(
                WelfareAlert.municipality_id == municipality_id,
                WelfareAlert.status == AlertStatus.OPEN,
            )
        )
    ).one()
    oldest = row[1]
    if isinstance(oldest, str):  # SQLite returns MIN() of a datetime as text
        oldest = datetime.fromisoformat(oldest)
    return OpenAlerts(count=int(row[0]), oldest_at=oldest)
