"""Every query of the settlement. A month is read set-based: one GROUP BY over
the month's orders, and the orders behind each line are linked with one
INSERT … SELECT per line, never one object per order."""

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, literal, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from market.auth.models import User
from market.orders import outcome
from market.orders.models import Order, OrderEvent
from market.settlement.models import (
    Adjustment,
    SettlementRun,
    Statement,
    StatementLine,
    StatementLineOrder,
    StatementStatus,
)
from providers.models import Approval, ApprovalStatus, ContractTerms, Provider
from vouchers.models import Citizen

# How each order ended: the one classification, in its SQL form.
IS_DELIVERED = outcome.IS_DELIVERED
IS_ON_TIME = outcome.IS_ON_TIME
IS_PROVIDER_FAULT = outcome.IS_PROVIDER_FAULT
IS_ABSENT = outcome.IS_ABSENT
IS_LATE_CANCELLED = outcome.IS_LATE_CANCELLED
IS_UNFINISHED = outcome.IS_UNFINISHED


def _id(value: int | None) -> int:
    """A primary key read back from the database, never None."""
    assert value is not None
    return value


def _units_where(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, col(Order.units)), else_=0)), 0)


def _in_month(municipality_id: int, first: date, last: date) -> Any:
    return and_(
        col(Order.municipality_id) == municipality_id,
        col(Order.delivery_on) >= first,
        col(Order.delivery_on) <= last,
    )


async def month_counts(
    session: AsyncSession,
    *,
    municipality_id: int,
    first: date,
    last: date,
    approval_id: int | None = None,
) -> list[dict[str, int]]:
    """One row per approval with orders in the month: units per outcome and the
    number of unfinished orders. One GROUP BY over service_order."""
    query = (
        select(
            col(Order.approval_id).label("approval_id"),
            func.max(col(Order.provider_id)).label("provider_id"),
            _units_where(IS_DELIVERED).label("delivered"),
            _units_where(IS_ON_TIME).label("delivered_on_time"),
            _units_where(IS_PROVIDER_FAULT).label("provider_fault_failures"),
            _units_where(IS_ABSENT).label("citizen_absent"),
            _units_where(IS_LATE_CANCELLED).label("late_cancelled"),
            func.coalesce(func.sum(case((IS_UNFINISHED, 1), else_=0)), 0).label(
                "unfinished_orders"
            ),
        )
        .where(_in_month(municipality_id, first, last))
        .group_by(col(Order.approval_id))
        .order_by(col(Order.approval_id))
    )
    if approval_id is not None:
        query = query.where(col(Order.approval_id) == approval_id)
    result = await session.execute(query)
    return [{key: int(value) for key, value in row._mapping.items()} for row in result.all()]


async def guaranteed_approvals(
    session: AsyncSession, *, municipality_id: int, first: date, last: date
) -> list[tuple[int, int]]:
    """(approval id, provider id) of approvals in force during the month whose
    terms in force carry a volume guarantee: take-or-pay pays even without orders."""
    result = await session.execute(
        select(col(Approval.id), col(Approval.provider_id))
        .where(
            col(Approval.municipality_id) == municipality_id,
            col(Approval.valid_from) <= last,
            col(Approval.valid_to) >= first,
            col(Approval.status).in_((ApprovalStatus.ACTIVE, ApprovalStatus.SUSPENDED)),
        )
        .order_by(col(Approval.id))
    )
    return [(_id(row[0]), row[1]) for row in result.all()]


async def terms_in_force(
    session: AsyncSession, *, approval_ids: Sequence[int], last: date
) -> dict[int, ContractTerms]:
    """The latest version of each approval's terms with valid_from on or before
    the month's last day."""
    if not approval_ids:
        return {}
    result = await session.execute(
        select(ContractTerms)
        .where(
            col(ContractTerms.approval_id).in_(approval_ids), col(ContractTerms.valid_from) <= last
        )
        .order_by(
            col(ContractTerms.approval_id),
            col(ContractTerms.valid_from).desc(),
            col(ContractTerms.version).desc(),
        )
    )
    chosen: dict[int, ContractTerms] = {}
    for terms in result.scalars():
        chosen.setdefault(terms.approval_id, terms)
    return chosen


async def statements_of_month(
    session: AsyncSession, *, municipality_id: int, month_on: date
) -> list[Statement]:
    result = await session.execute(
        select(Statement)
        .where(
            col(Statement.municipality_id) == municipality_id, col(Statement.month_on) == month_on
        )
        .order_by(col(Statement.provider_id), col(Statement.approval_id))
    )
    return list(result.scalars())


async def statements_with_providers(
    session: AsyncSession, *, municipality_id: int, month_on: date
) -> list[tuple[Statement, str]]:
    result = await session.execute(
        select(Statement, col(Provider.name))
        .join(Provider, col(Provider.id) == col(Statement.provider_id))
        .where(
            col(Statement.municipality_id) == municipality_id, col(Statement.month_on) == month_on
        )
        .order_by(col(Provider.name), col(Statement.approval_id))
    )
    return [(row[0], row[1]) for row in result.all()]


async def add_run(session: AsyncSession, values: dict[str, Any]) -> int:
    result = await session.execute(
        insert(SettlementRun).values(**values).returning(col(SettlementRun.id))
    )
    return _id(result.scalar_one())


async def update_run(
    session: AsyncSession, run_id: int, *, statements: int, total_ore: int
) -> bool:
    result = await session.execute(
        update(SettlementRun)
        .where(col(SettlementRun.id) == run_id)
        .values(statements=statements, total_ore=total_ore)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def lock_month(session: AsyncSession, *, municipality_id: int, month_on: date) -> bool:
    """Takes the month's settlement lock until the end of the transaction, or
    says someone else holds it: runs and approvals of one month take turns, so
    a re-run never rewrites a statement being approved. SQLite needs nothing:
    BEGIN IMMEDIATE already serialises writers."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    key = f"settlement:{municipality_id}:{month_on.isoformat()}"
    result = await session.execute(
        select(func.pg_try_advisory_xact_lock(func.hashtextextended(key, 0)))
    )
    return bool(result.scalar_one())


async def clear_drafts(session: AsyncSession, statement_ids: Sequence[int]) -> None:
    """Removes the lines of draft statements and the links behind them; the
    condition on the status, not the caller's list, keeps approved lines."""
    if not statement_ids:
        return
    drafts = select(col(Statement.id)).where(
        col(Statement.id).in_(statement_ids), col(Statement.status) == StatementStatus.DRAFT
    )
    lines = select(col(StatementLine.id)).where(
        col(StatementLine.statement_id).in_(drafts.scalar_subquery())
    )
    # synchronize_session=False: a plain DELETE. The ORM's default would send
    # DELETE … RETURNING and load every removed link (a row per order) into Python.
    await session.execute(
        delete(StatementLineOrder)
        .where(col(StatementLineOrder.line_id).in_(lines.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(StatementLine)
        .where(col(StatementLine.statement_id).in_(drafts.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )


async def delete_statements(session: AsyncSession, statement_ids: Sequence[int]) -> None:
    if statement_ids:
        await session.execute(
            delete(Statement).where(
                col(Statement.id).in_(statement_ids), col(Statement.status) == StatementStatus.DRAFT
            )
        )


async def insert_statement(session: AsyncSession, values: dict[str, Any]) -> int:
    result = await session.execute(insert(Statement).values(**values).returning(col(Statement.id)))
    return _id(result.scalar_one())


async def update_draft(session: AsyncSession, statement_id: int, values: dict[str, Any]) -> bool:
    result = await session.execute(
        update(Statement)
        .where(col(Statement.id) == statement_id, col(Statement.status) == StatementStatus.DRAFT)
        .values(**values)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def insert_line(session: AsyncSession, values: dict[str, Any]) -> int:
    result = await session.execute(
        insert(StatementLine).values(**values).returning(col(StatementLine.id))
    )
    return _id(result.scalar_one())


def _per_approval(rows: Mapping[int, Sequence[int]], names: Sequence[str]) -> Any:
    """A small table of literal rows (approval_id, *names) to join many rows to:
    one join instead of a CASE over every approval for every row."""
    selects = [
        select(
            literal(approval_id).label("approval_id"),
            *(literal(value).label(name) for name, value in zip(names, values, strict=True)),
        )
        for approval_id, values in sorted(rows.items())
    ]
    table = selects[0] if len(selects) == 1 else union_all(*selects)
    return table.subquery()


async def link_orders(
    session: AsyncSession,
    *,
    line_ids: Mapping[int, int],
    condition: Any,
    municipality_id: int,
    first: date,
    last: date,
) -> None:
    """One INSERT … SELECT for every approval at once: each order of the month
    meeting ``condition`` behind its approval's line (``line_ids[approval_id]``).
    One pass over the month instead of one per approval and line."""
    if not line_ids:
        return
    # A CASE, not a join: joined, SQLite scans the month once per approval.
    line_id = case(*((col(Order.approval_id) == a, line) for a, line in line_ids.items()))
    orders = select(line_id, col(Order.id)).where(
        _in_month(municipality_id, first, last),
        col(Order.approval_id).in_(sorted(line_ids)),
        condition,
    )
    await session.execute(insert(StatementLineOrder).from_select(["line_id", "order_id"], orders))


async def link_deliveries_split(
    session: AsyncSession,
    *,
    splits: Mapping[int, tuple[int, int, int]],
    municipality_id: int,
    first: date,
    last: date,
) -> None:
    """Per approval (``splits[approval_id] = (full line, rebated line,
    threshold)``): deliveries up to the rebate threshold behind the first line,
    the rest behind the rebated one, in delivery order (day, then id), by running
    units per approval. One INSERT … SELECT for every approval at once."""
    if not splits:
        return
    running = (
        func.sum(col(Order.units))
        .over(
            partition_by=col(Order.approval_id),
            order_by=(col(Order.delivery_on), col(Order.delivered_at), col(Order.id)),
        )
        .label("running")
    )
    ranked = (
        select(
            col(Order.id).label("order_id"), col(Order.approval_id).label("approval_id"), running
        )
        .where(
            _in_month(municipality_id, first, last),
            col(Order.approval_id).in_(sorted(splits)),
            IS_DELIVERED,
        )
        .subquery()
    )
    lines = _per_approval(splits, ("full_line_id", "rebated_line_id", "threshold"))
    rows = select(
        case(
            (ranked.c.running <= lines.c.threshold, lines.c.full_line_id),
            else_=lines.c.rebated_line_id,
        ),
        ranked.c.order_id,
    ).join_from(ranked, lines, lines.c.approval_id == ranked.c.approval_id)
    await session.execute(insert(StatementLineOrder).from_select(["line_id", "order_id"], rows))


async def open_adjustments(
    session: AsyncSession, *, approval_ids: Sequence[int], before: date
) -> list[tuple[Adjustment, date]]:
    """Adjustments not yet applied, on statements of months before ``before``."""
    if not approval_ids:
        return []
    corrected = aliased(Statement)
    result = await session.execute(
        select(Adjustment, col(corrected.month_on))
        .join(corrected, col(corrected.id) == col(Adjustment.corrects_statement_id))
        .where(
            col(Adjustment.approval_id).in_(approval_ids),
            col(Adjustment.applied_statement_id).is_(None),
            col(corrected.month_on) < before,
        )
        .order_by(col(Adjustment.approval_id), col(Adjustment.created_at), col(Adjustment.id))
    )
    return [(row[0], row[1]) for row in result.all()]


async def apply_adjustments(
    session: AsyncSession, *, adjustment_ids: Sequence[int], statement_id: int
) -> int:
    if not adjustment_ids:
        return 0
    result = await session.execute(
        update(Adjustment)
        .where(
            col(Adjustment.id).in_(adjustment_ids), col(Adjustment.applied_statement_id).is_(None)
        )
        .values(applied_statement_id=statement_id)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def insert_adjustment(session: AsyncSession, values: dict[str, Any]) -> int:
    result = await session.execute(
        insert(Adjustment).values(**values).returning(col(Adjustment.id))
    )
    return _id(result.scalar_one())


async def adjustments_of(session: AsyncSession, statement_id: int) -> list[Adjustment]:
    result = await session.execute(
        select(Adjustment)
        .where(col(Adjustment.corrects_statement_id) == statement_id)
        .order_by(col(Adjustment.id))
    )
    return list(result.scalars())


async def get_run(session: AsyncSession, run_id: int) -> SettlementRun | None:
    result = await session.execute(
        select(SettlementRun)
        .where(col(SettlementRun.id) == run_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def get_adjustment(session: AsyncSession, adjustment_id: int) -> Adjustment | None:
    return await session.get(Adjustment, adjustment_id)


async def get_statement(session: AsyncSession, statement_id: int) -> Statement | None:
    result = await session.execute(
        select(Statement)
        .where(col(Statement.id) == statement_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def lines_of(session: AsyncSession, statement_ids: Sequence[int]) -> list[StatementLine]:
    if not statement_ids:
        return []
    result = await session.execute(
        select(StatementLine)
        .where(col(StatementLine.statement_id).in_(statement_ids))
        .order_by(col(StatementLine.statement_id), col(StatementLine.position))
    )
    return list(result.scalars())


async def get_line(session: AsyncSession, line_id: int) -> StatementLine | None:
    return await session.get(StatementLine, line_id)


async def line_order_counts(session: AsyncSession, statement_id: int) -> dict[int, int]:
    result = await session.execute(
        select(col(StatementLineOrder.line_id), func.count())
        .join(StatementLine, col(StatementLine.id) == col(StatementLineOrder.line_id))
        .where(col(StatementLine.statement_id) == statement_id)
        .group_by(col(StatementLineOrder.line_id))
    )
    return {row[0]: int(row[1]) for row in result.all()}


async def line_orders(
    session: AsyncSession, *, line_id: int, offset: int, limit: int
) -> tuple[list[tuple[Order, str]], int]:
    """The orders behind a line with the citizen's name, by day; and how many."""
    total = (
        await session.execute(
            select(func.count())
            .select_from(StatementLineOrder)
            .where(col(StatementLineOrder.line_id) == line_id)
        )
    ).scalar_one()
    result = await session.execute(
        select(Order, col(Citizen.full_name))
        .join(StatementLineOrder, col(StatementLineOrder.order_id) == col(Order.id))
        .join(Citizen, col(Citizen.id) == col(Order.citizen_id))
        .where(col(StatementLineOrder.line_id) == line_id)
        .order_by(col(Order.delivery_on), col(Order.id))
        .offset(offset)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in result.all()], int(total)


async def all_line_orders(
    session: AsyncSession, *, statement_id: int
) -> list[tuple[int, Order, str]]:
    """Every order behind a statement's lines, for exports: (line id, order, citizen)."""
    result = await session.execute(
        select(col(StatementLineOrder.line_id), Order, col(Citizen.full_name))
        .join(Order, col(Order.id) == col(StatementLineOrder.order_id))
        .join(StatementLine, col(StatementLine.id) == col(StatementLineOrder.line_id))
        .join(Citizen, col(Citizen.id) == col(Order.citizen_id))
        .where(col(StatementLine.statement_id) == statement_id)
        .order_by(col(StatementLine.position), col(Order.delivery_on), col(Order.id))
    )
    return [(row[0], row[1], row[2]) for row in result.all()]


async def line_of_order(session: AsyncSession, order_id: int) -> StatementLine | None:
    result = await session.execute(
        select(StatementLine)
        .join(StatementLineOrder, col(StatementLineOrder.line_id) == col(StatementLine.id))
        .where(col(StatementLineOrder.order_id) == order_id)
    )
    return result.scalar_one_or_none()


async def get_order(session: AsyncSession, order_id: int) -> tuple[Order, str] | None:
    result = await session.execute(
        select(Order, col(Citizen.full_name))
        .join(Citizen, col(Citizen.id) == col(Order.citizen_id))
        .where(col(Order.id) == order_id)
    )
    row = result.one_or_none()
    return None if row is None else (row[0], row[1])


async def order_events(session: AsyncSession, order_id: int) -> list[tuple[OrderEvent, str | None]]:
    actor = aliased(User)
    result = await session.execute(
        select(OrderEvent, col(actor.full_name))
        .outerjoin(actor, col(actor.id) == col(OrderEvent.actor_user_id))
        .where(col(OrderEvent.order_id) == order_id)
        .order_by(col(OrderEvent.occurred_at), col(OrderEvent.id))
    )
    return [(row[0], row[1]) for row in result.all()]


async def approve(
    session: AsyncSession,
    *,
    statement_id: int,
    approved_by_user_id: int,
    approved_at: datetime,
    seq: int,
    hash_: str,
) -> bool:
    """Draft → approved, only if still a draft and not prepared by the approver."""
    result = await session.execute(
        update(Statement)
        .where(
            col(Statement.id) == statement_id,
            col(Statement.status) == StatementStatus.DRAFT,
            col(Statement.prepared_by_user_id) != approved_by_user_id,
        )
        .values(
            status=StatementStatus.APPROVED,
            approved_by_user_id=approved_by_user_id,
            approved_at=approved_at,
            audit_chain_seq=seq,
            audit_chain_hash=hash_,
        )
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def month_summaries(session: AsyncSession, *, municipality_id: int) -> list[dict[str, Any]]:
    """Per month with statements: how many, drafts, approved, total."""
    result = await session.execute(
        select(
            col(Statement.month_on),
            func.count(),
            func.sum(case((col(Statement.status) == StatementStatus.DRAFT, 1), else_=0)),
            func.sum(col(Statement.total_ore)),
            func.sum(col(Statement.unfinished_orders)),
        )
        .where(col(Statement.municipality_id) == municipality_id)
        .group_by(col(Statement.month_on))
        .order_by(col(Statement.month_on).desc())
    )
    return [
        {
            "month_on": row[0],
            "statements": int(row[1]),
            "drafts": int(row[2] or 0),
            "total_ore": int(row[3] or 0),
            "unfinished_orders": int(row[4] or 0),
        }
        for row in result.all()
    ]


async def last_run(
    session: AsyncSession, *, municipality_id: int, month_on: date
) -> SettlementRun | None:
    result = await session.execute(
        select(SettlementRun)
        .where(
            col(SettlementRun.municipality_id) == municipality_id,
            col(SettlementRun.month_on) == month_on,
        )
        .order_by(col(SettlementRun.id).desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


async def user_names(session: AsyncSession, user_ids: Sequence[int]) -> dict[int, str]:
    ids = sorted({i for i in user_ids if i is not None})
    if not ids:
        return {}
    result = await session.execute(
        select(col(User.id), col(User.full_name)).where(col(User.id).in_(ids))
    )
    return {_id(row[0]): row[1] for row in result.all()}


async def provider_names(session: AsyncSession, provider_ids: Sequence[int]) -> dict[int, str]:
    ids = sorted(set(provider_ids))
    if not ids:
        return {}
    result = await session.execute(
        select(col(Provider.id), col(Provider.name)).where(col(Provider.id).in_(ids))
    )
    return {_id(row[0]): row[1] for row in result.all()}


async def get_terms(session: AsyncSession, terms_id: int) -> ContractTerms | None:
    return await session.get(ContractTerms, terms_id)
