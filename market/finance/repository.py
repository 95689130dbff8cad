"""Every query of the finance API: read-only pages over statements, their
lines and orders, credit notes, payment files and co-payment statements.
Pages are ordered by a stable key (month, then id), so page N is the same
page on every call while nothing new is approved."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.copayments.models import CopaymentStatement
from market.finance.models import IssuedDocument
from market.payouts.models import PaymentFile, Payout
from market.settlement.models import (
    Adjustment,
    Statement,
    StatementLine,
    StatementLineOrder,
    StatementStatus,
)
from providers.models import ContractTerms, Provider


@dataclass(frozen=True)
class StatementParts:
    statement: Statement
    provider: Provider
    terms: ContractTerms
    lines: list[StatementLine]


async def statement_parts(session: AsyncSession, statement_id: int) -> StatementParts | None:
    row = (
        await session.execute(
            select(Statement, Provider, ContractTerms)
            .join(Provider, col(Provider.id) == Statement.provider_id)
            .join(ContractTerms, col(ContractTerms.id) == Statement.terms_id)
            .where(col(Statement.id) == statement_id)
        )
    ).first()
    if row is None:
        return None
    lines = (
        await session.execute(
            select(StatementLine)
            .where(col(StatementLine.statement_id) == statement_id)
            .order_by(col(StatementLine.position))
        )
    ).scalars()
    return StatementParts(row[0], row[1], row[2], list(lines))


async def get_adjustment(session: AsyncSession, adjustment_id: int) -> Adjustment | None:
    return await session.get(Adjustment, adjustment_id)


def _statement_filter(
    municipality_id: int, month_on: date | None, provider_id: int | None, approved: bool
) -> list[Any]:
    where: list[Any] = [col(Statement.municipality_id) == municipality_id]
    if approved:
        where.append(col(Statement.status) == StatementStatus.APPROVED)
    if month_on is not None:
        where.append(col(Statement.month_on) == month_on)
    if provider_id is not None:
        where.append(col(Statement.provider_id) == provider_id)
    return where


async def statements_page(
    session: AsyncSession,
    *,
    municipality_id: int,
    month_on: date | None,
    provider_id: int | None,
    approved_only: bool,
    offset: int,
    limit: int,
) -> tuple[list[tuple[Statement, str]], int]:
    where = _statement_filter(municipality_id, month_on, provider_id, approved_only)
    total = (
        await session.execute(select(func.count()).select_from(Statement).where(*where))
    ).scalar_one()
    result = await session.execute(
        select(Statement, col(Provider.name))
        .join(Provider, col(Provider.id) == Statement.provider_id)
        .where(*where)
        .order_by(col(Statement.month_on), col(Statement.id))
        .offset(offset)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in result.all()], int(total)


async def lines_with_orders(
    session: AsyncSession, statement_ids: Sequence[int]
) -> tuple[list[StatementLine], dict[int, list[int]]]:
    """The statements' lines by position, and each line's order ids."""
    if not statement_ids:
        return [], {}
    lines = list(
        (
            await session.execute(
                select(StatementLine)
                .where(col(StatementLine.statement_id).in_(list(statement_ids)))
                .order_by(col(StatementLine.statement_id), col(StatementLine.position))
            )
        ).scalars()
    )
    orders: dict[int, list[int]] = {}
    result = await session.execute(
        select(col(StatementLineOrder.line_id), col(StatementLineOrder.order_id))
        .join(StatementLine, col(StatementLine.id) == StatementLineOrder.line_id)
        .where(col(StatementLine.statement_id).in_(list(statement_ids)))
        .order_by(col(StatementLineOrder.line_id), col(StatementLineOrder.order_id))
    )
    for line_id, order_id in result.all():
        orders.setdefault(line_id, []).append(order_id)
    return lines, orders


async def lowering_adjustments_page(
    session: AsyncSession,
    *,
    municipality_id: int,
    month_on: date | None,
    provider_id: int | None,
    offset: int,
    limit: int,
) -> tuple[list[tuple[Adjustment, Statement, str]], int]:
    """Adjustments that lower an approved statement (each is a credit note),
    filtered by the corrected statement's month."""
    where: list[Any] = [
        col(Adjustment.municipality_id) == municipality_id,
        col(Adjustment.amount_ore) < 0,
        col(Statement.status) == StatementStatus.APPROVED,
    ]
    if month_on is not None:
        where.append(col(Statement.month_on) == month_on)
    if provider_id is not None:
        where.append(col(Adjustment.provider_id) == provider_id)
    joined = select(Adjustment, Statement, col(Provider.name)).join(
        Statement,
        col(Statement.id) == Adjustment.corrects_statement_id,
    )
    total = (
        await session.execute(
            select(func.count())
            .select_from(Adjustment)
            .join(Statement, col(Statement.id) == Adjustment.corrects_statement_id)
            .where(*where)
        )
    ).scalar_one()
    result = await session.execute(
        joined.join(Provider, col(Provider.id) == Adjustment.provider_id)
        .where(*where)
        .order_by(col(Statement.month_on), col(Adjustment.id))
        .offset(offset)
        .limit(limit)
    )
    return [(row[0], row[1], row[2]) for row in result.all()], int(total)


async def payment_files_page(
    session: AsyncSession,
    *,
    municipality_id: int,
    month_on: date | None,
    provider_id: int | None,
    offset: int,
    limit: int,
) -> tuple[list[PaymentFile], int]:
    """Payment files; by month of the statements they pay, or holding a
    payout to the provider."""
    where: list[Any] = [col(PaymentFile.municipality_id) == municipality_id]
    conditions: list[Any] = [col(Payout.payment_file_id) == PaymentFile.id]
    if provider_id is not None:
        conditions.append(col(Payout.provider_id) == provider_id)
    if month_on is not None:
        conditions.append(
            exists().where(
                col(Statement.id) == Payout.statement_id, col(Statement.month_on) == month_on
            )
        )
    if len(conditions) > 1:
        where.append(exists().where(and_(*conditions)))
    total = (
        await session.execute(select(func.count()).select_from(PaymentFile).where(*where))
    ).scalar_one()
    result = await session.execute(
        select(PaymentFile).where(*where).order_by(col(PaymentFile.id)).offset(offset).limit(limit)
    )
    return list(result.scalars()), int(total)


async def get_payment_file(session: AsyncSession, file_id: int) -> PaymentFile | None:
    return await session.get(PaymentFile, file_id)


async def copayment_statements_page(
    session: AsyncSession, *, municipality_id: int, month_on: date | None, offset: int, limit: int
) -> tuple[list[CopaymentStatement], int]:
    where: list[Any] = [col(CopaymentStatement.municipality_id) == municipality_id]
    if month_on is not None:
        where.append(col(CopaymentStatement.month_on) == month_on)
    total = (
        await session.execute(select(func.count()).select_from(CopaymentStatement).where(*where))
    ).scalar_one()
    result = await session.execute(
        select(CopaymentStatement)
        .where(*where)
        .order_by(col(CopaymentStatement.month_on), col(CopaymentStatement.id))
        .offset(offset)
        .limit(limit)
    )
    return list(result.scalars()), int(total)


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


async def issued(session: AsyncSession, number: str) -> IssuedDocument | None:
    result = await session.execute(
        select(IssuedDocument).where(col(IssuedDocument.number) == number)
    )
    return result.scalar_one_or_none()


async def issue_once(session: AsyncSession, values: dict[str, Any]) -> IssuedDocument:
    """Stores the document unless its number is issued already (two requests
    at once: the first one's bytes win), and returns what is stored."""
    await session.execute(
        _insert(session)(IssuedDocument)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["number"])
    )
    found = await issued(session, values["number"])
    assert found is not None
    return found
