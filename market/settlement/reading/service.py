"""The settlement read for pages, exports and auditors."""

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.audit.models import AuditEvent
from market.auth.permissions import Actor, Permission
from market.clock import first_of_month, today
from market.errors import N_
from market.orders.models import Order, OrderEvent, OrderStatus
from market.orders.outcome import Outcome, outcome_of
from market.settlement import explain, repository
from market.settlement.exceptions import (
    LineNotFound,
    SettledOrderNotFound,
)
from market.settlement.models import (
    Adjustment,
    SettlementRun,
    Statement,
    StatementLine,
    StatementStatus,
)
from market.settlement.scope import (
    month_has_ended,
    municipality,
    statement_in_scope,
)
from providers.models import ContractTerms

# --- reading, for pages, exports and auditors ----------------------------------------------


@dataclass(frozen=True)
class MonthRow:
    month_on: date
    ended: bool
    statements: int = 0
    drafts: int = 0
    total_ore: int = 0
    unfinished_orders: int = 0

    @property
    def status(self) -> str:
        if not self.statements:
            return "not_run"
        return "draft" if self.drafts else "approved"


async def months(session: AsyncSession, *, actor: Actor, recent: int = 12) -> list[MonthRow]:
    """The last ``recent`` months (newest first) and every month with statements."""
    municipality_id = municipality(actor, Permission.SETTLEMENT_VIEW)
    rows = {
        s["month_on"]: MonthRow(ended=month_has_ended(s["month_on"]), **s)
        for s in await repository.month_summaries(session, municipality_id=municipality_id)
    }
    month_on = first_of_month(today())
    for _ in range(recent):
        rows.setdefault(month_on, MonthRow(month_on=month_on, ended=month_has_ended(month_on)))
        month_on = first_of_month(month_on - timedelta(days=1))
    return sorted(rows.values(), key=lambda r: r.month_on, reverse=True)


@dataclass(frozen=True)
class StatementRow:
    statement: Statement
    provider_name: str

    @property
    def approvable(self) -> bool:
        return self.statement.status == StatementStatus.DRAFT and not (
            self.statement.unfinished_orders
        )


@dataclass(frozen=True)
class MonthView:
    month_on: date
    ended: bool
    statements: list[StatementRow]
    last_run: SettlementRun | None
    names: dict[int, str]

    @property
    def total_ore(self) -> int:
        return sum(row.statement.total_ore for row in self.statements)

    @property
    def drafts(self) -> list[StatementRow]:
        return [r for r in self.statements if r.statement.status == StatementStatus.DRAFT]

    @property
    def unfinished_orders(self) -> int:
        return sum(r.statement.unfinished_orders for r in self.statements)


async def month_view(session: AsyncSession, *, actor: Actor, month_on: date) -> MonthView:
    municipality_id = municipality(actor, Permission.SETTLEMENT_VIEW)
    month_on = first_of_month(month_on)
    rows = await repository.statements_with_providers(
        session, municipality_id=municipality_id, month_on=month_on
    )
    run = await repository.last_run(session, municipality_id=municipality_id, month_on=month_on)
    user_ids = [s.prepared_by_user_id for s, _ in rows]
    user_ids += [s.approved_by_user_id for s, _ in rows if s.approved_by_user_id]
    if run is not None:
        user_ids.append(run.run_by_user_id)
    return MonthView(
        month_on=month_on,
        ended=month_has_ended(month_on),
        statements=[StatementRow(s, name) for s, name in rows],
        last_run=run,
        names=await repository.user_names(session, user_ids),
    )


@dataclass(frozen=True)
class LineView:
    line: StatementLine
    params: dict[str, Any]
    orders: int

    @property
    def text(self) -> str:
        """The explanation in the reader's language."""
        return explain.render(self.line.explanation, self.params)

    def text_in(self, language: str) -> str:
        return explain.render(self.line.explanation, self.params, language)


@dataclass(frozen=True)
class StatementView:
    statement: Statement
    provider_name: str
    lines: list[LineView]
    terms: ContractTerms
    prepared_by: str
    approved_by: str | None
    corrections: list[Adjustment] = field(default_factory=list)

    @property
    def approved(self) -> bool:
        return self.statement.status == StatementStatus.APPROVED


async def statement_view(
    session: AsyncSession, *, actor: Actor, statement_id: int
) -> StatementView:
    """A statement with its lines (and how many orders stand behind each), the
    terms version used, who prepared and approved it, and its audit head."""
    statement = await statement_in_scope(session, actor, statement_id, Permission.SETTLEMENT_VIEW)
    lines = await repository.lines_of(session, [statement_id])
    counts = await repository.line_order_counts(session, statement_id)
    terms = await repository.get_terms(session, statement.terms_id)
    assert terms is not None
    names = await repository.user_names(
        session,
        [statement.prepared_by_user_id]
        + ([statement.approved_by_user_id] if statement.approved_by_user_id else []),
    )
    providers = await repository.provider_names(session, [statement.provider_id])
    return StatementView(
        statement=statement,
        provider_name=providers.get(statement.provider_id, ""),
        lines=[
            LineView(line, json.loads(line.explanation_params_json), counts.get(line.id or 0, 0))
            for line in lines
        ],
        terms=terms,
        prepared_by=names.get(statement.prepared_by_user_id, ""),
        approved_by=names.get(statement.approved_by_user_id)
        if statement.approved_by_user_id
        else None,
        corrections=await repository.adjustments_of(session, statement_id),
    )


def mask_name(full_name: str) -> str:
    """'Karen Marie Jensen' → 'Karen J.': enough to recognise, not to identify."""
    parts = full_name.split()
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0][0] + "."
    return f"{parts[0]} {parts[-1][0]}."


OUTCOME_LABELS = {
    "on_time": N_("Delivered on time"),
    "late": N_("Delivered late"),
    "provider_fault": N_("Not delivered (provider's fault)"),
    "citizen_absent": N_("Citizen not at home"),
    "late_cancelled": N_("Cancelled after the cut-off"),
    "other": N_("Not settled"),
}


def outcome(order: Order) -> str:
    """The order's outcome as OUTCOME_LABELS names it (unfinished orders are not settled)."""
    ended = outcome_of(order)
    return Outcome.OTHER.value if ended == Outcome.UNFINISHED else ended.value


@dataclass(frozen=True)
class OrderRow:
    order_id: int
    citizen: str  # masked
    delivery_on: date
    outcome: str
    delivered_at: datetime | None
    units: int


def _order_row(order: Order, citizen_name: str) -> OrderRow:
    assert order.id is not None
    return OrderRow(
        order_id=order.id,
        citizen=mask_name(citizen_name),
        delivery_on=order.delivery_on,
        outcome=outcome(order),
        delivered_at=order.delivered_at,
        units=order.units,
    )


@dataclass(frozen=True)
class LineOrders:
    statement: Statement
    line: LineView
    orders: list[OrderRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


async def line_orders(
    session: AsyncSession, *, actor: Actor, line_id: int, page: int = 1, per_page: int = 50
) -> LineOrders:
    """The orders behind one line, paged, by day."""
    municipality_id = municipality(actor, Permission.SETTLEMENT_VIEW)
    line = await repository.get_line(session, line_id)
    statement = None if line is None else await repository.get_statement(session, line.statement_id)
    if line is None or statement is None or statement.municipality_id != municipality_id:
        raise LineNotFound()
    page, per_page = max(1, page), min(max(1, per_page), 500)
    rows, total = await repository.line_orders(
        session, line_id=line_id, offset=(page - 1) * per_page, limit=per_page
    )
    return LineOrders(
        statement=statement,
        line=LineView(line, json.loads(line.explanation_params_json), total),
        orders=[_order_row(order, name) for order, name in rows],
        total=total,
        page=page,
        per_page=per_page,
    )


@dataclass(frozen=True)
class OrderHistory:
    order: OrderRow
    status: OrderStatus
    failure_reason: str | None
    window_end_at: datetime
    line: StatementLine | None
    events: list[tuple[OrderEvent, str | None]]
    audit_events: list[tuple[AuditEvent, str | None]]


async def order_history(session: AsyncSession, *, actor: Actor, order_id: int) -> OrderHistory:
    """An order's events and its audit events, and the line it stands behind."""
    municipality_id = municipality(actor, Permission.SETTLEMENT_VIEW)
    found = await repository.get_order(session, order_id)
    if found is None or found[0].municipality_id != municipality_id:
        raise SettledOrderNotFound()
    order, name = found
    return OrderHistory(
        order=_order_row(order, name),
        status=order.status,
        failure_reason=order.failure_reason.value if order.failure_reason else None,
        window_end_at=order.window_end_at,
        line=await repository.line_of_order(session, order_id),
        events=await repository.order_events(session, order_id),
        # Oldest first, as the order's own events read.
        audit_events=[
            (event, who)
            for event, who, _ in reversed(
                await audit.recent(
                    session,
                    municipality_id=municipality_id,
                    limit=1000,
                    entity_type="order",
                    entity_id=str(order_id),
                )
            )
        ],
    )


@dataclass(frozen=True)
class StatementExport:
    view: StatementView
    orders: list[tuple[int, OrderRow]]  # (line position, order)


async def statement_export(
    session: AsyncSession, *, actor: Actor, statement_id: int
) -> StatementExport:
    """A statement with every order behind its lines, for CSV and XLSX."""
    view = await statement_view(session, actor=actor, statement_id=statement_id)
    positions = {lv.line.id: lv.line.position for lv in view.lines}
    rows = await repository.all_line_orders(session, statement_id=statement_id)
    return StatementExport(
        view=view,
        orders=[(positions[line_id], _order_row(order, name)) for line_id, order, name in rows],
    )
