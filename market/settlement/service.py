"""The monthly settlement: run a month (drafts), approve with four eyes,
correct approved statements with adjustments, and read it all for pages,
exports and auditors. The rules themselves are the pure rules.settle."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.audit.models import GENESIS_HASH, AuditEvent
from market.auth.permissions import Actor, Permission
from market.clock import first_of_month, last_of_month, today
from market.db import utcnow
from market.errors import N_
from market.money import parse_kroner
from market.orders.models import Order, OrderEvent, OrderStatus
from market.settlement import explain, repository, rules
from market.settlement.exceptions import (
    AdjustmentNeedsAmount,
    AdjustmentNeedsReason,
    AdjustmentOnDraft,
    LineNotFound,
    MonthBusy,
    MonthNotEnded,
    NoTermsInForce,
    NothingToApprove,
    NotYourMunicipality,
    OnlyApprovedCanBeChecked,
    PreparerCannotApprove,
    RunInProgress,
    SettledOrderNotFound,
    StatementAlreadyApproved,
    StatementNotFound,
    StatementOutOfDate,
    UnfinishedOrders,
)
from market.settlement.models import (
    Adjustment,
    SettlementRun,
    Statement,
    StatementLine,
    StatementStatus,
)
from providers.models import ContractTerms

Progress = Callable[[int, int], None]

ADJUSTMENT_MESSAGE = N_("Correction of the statement for {month}: {reason}")
COUNT_FIELDS = (
    "delivered",
    "delivered_on_time",
    "provider_fault_failures",
    "citizen_absent",
    "late_cancelled",
    "unfinished_orders",
)

# --- months ---------------------------------------------------------------------


def month_has_ended(month_on: date, on: date | None = None) -> bool:
    return last_of_month(month_on) < (on or today())


def parse_signed_kroner(text: str) -> int:
    """'-12,50' → -1250; a correction can go either way."""
    cleaned = str(text).strip().replace("−", "-")
    negative = cleaned.startswith("-")
    ore = parse_kroner(cleaned.removeprefix("-").strip())
    return -ore if negative else ore


def _municipality(actor: Actor, permission: Permission) -> int:
    if actor.municipality_id is None or not actor.can(permission):
        raise NotYourMunicipality()
    return actor.municipality_id


# --- running a month -----------------------------------------------------------------


def _has_guarantee(row: ContractTerms) -> bool:
    return row.min_units_per_month > 0 and row.shortfall_rate_bp > 0


def _decimal(value: Fraction | None) -> Decimal | None:
    return None if value is None else Decimal(str(rules.exact(value)))


async def _link(
    session: AsyncSession,
    *,
    line_ids: dict[rules.LineKind, int],
    terms: rules.ContractTerms,
    where: dict[str, Any],
) -> None:
    """The orders behind each line, one INSERT … SELECT per line: deliveries
    behind the delivery lines, absent and late-cancelled behind their share
    lines, provider-fault failures behind the SLA line (they pay nothing but
    count in the on-time rate)."""
    full = line_ids.get(rules.LineKind.DELIVERED)
    rebated = line_ids.get(rules.LineKind.DELIVERED_ABOVE_REBATE_THRESHOLD)
    if full is not None and rebated is not None:
        assert terms.rebate_threshold_units is not None
        await repository.link_deliveries_split(
            session,
            full_line_id=full,
            rebated_line_id=rebated,
            threshold=terms.rebate_threshold_units,
            **where,
        )
    elif full is not None or rebated is not None:
        line_id = full if full is not None else rebated
        assert line_id is not None
        await repository.link_orders(
            session, line_id=line_id, condition=repository.IS_DELIVERED, **where
        )
    for kind, condition in (
        (rules.LineKind.CITIZEN_ABSENT, repository.IS_ABSENT),
        (rules.LineKind.LATE_CANCELLED, repository.IS_LATE_CANCELLED),
        (rules.LineKind.SLA_MALUS, repository.IS_PROVIDER_FAULT),
        (rules.LineKind.SLA_BONUS, repository.IS_PROVIDER_FAULT),
    ):
        if kind in line_ids:
            await repository.link_orders(
                session, line_id=line_ids[kind], condition=condition, **where
            )


async def run_month(
    session: AsyncSession, *, actor: Actor, month_on: date, progress: Progress | None = None
) -> SettlementRun:
    """Settles the actor's municipality's month as drafts: one statement per
    approval with orders in the month, or with a volume guarantee in force.
    Drafts are replaced; approved statements are never touched. The same data
    gives the same statements, to the øre."""
    municipality_id = _municipality(actor, Permission.SETTLEMENT_RUN)
    month_on = first_of_month(month_on)
    first, last = month_on, last_of_month(month_on)
    if not month_has_ended(month_on):
        raise MonthNotEnded(month_on)
    await _lock_month(session, municipality_id, month_on)

    counts = {
        row["approval_id"]: row
        for row in await repository.month_counts(
            session, municipality_id=municipality_id, first=first, last=last
        )
    }
    candidates = dict(
        await repository.guaranteed_approvals(
            session, municipality_id=municipality_id, first=first, last=last
        )
    )
    terms_rows = await repository.terms_in_force(
        session, approval_ids=sorted(set(counts) | set(candidates)), last=last
    )
    wanted: dict[int, tuple[int, dict[str, int]]] = {}
    for approval_id, row in counts.items():
        if approval_id not in terms_rows:
            raise NoTermsInForce(approval_id, month_on)
        wanted[approval_id] = (row["provider_id"], row)
    for approval_id, provider_id in candidates.items():
        terms_row = terms_rows.get(approval_id)
        if approval_id not in wanted and terms_row is not None and _has_guarantee(terms_row):
            wanted[approval_id] = (provider_id, {"provider_id": provider_id})

    existing = {
        s.approval_id: s
        for s in await repository.statements_of_month(
            session, municipality_id=municipality_id, month_on=month_on
        )
    }
    drafts = [s for s in existing.values() if s.status == StatementStatus.DRAFT]
    await repository.clear_drafts(session, [s.id for s in drafts if s.id is not None])
    await repository.delete_statements(
        session, [s.id for s in drafts if s.id is not None and s.approval_id not in wanted]
    )
    to_settle = sorted(
        a for a in wanted if a not in existing or existing[a].status == StatementStatus.DRAFT
    )
    adjustments: dict[int, list[tuple[Adjustment, date]]] = {}
    for adjustment, corrected_month in await repository.open_adjustments(
        session, approval_ids=to_settle, before=month_on
    ):
        adjustments.setdefault(adjustment.approval_id, []).append((adjustment, corrected_month))

    now = utcnow()
    run_id = await repository.add_run(
        session,
        {
            "municipality_id": municipality_id,
            "month_on": month_on,
            "run_by_user_id": actor.user_id,
            "run_at": now,
        },
    )
    total_ore = 0
    summary: list[dict[str, int]] = []
    if progress:
        progress(0, len(to_settle))
    for done, approval_id in enumerate(to_settle, start=1):
        provider_id, row = wanted[approval_id]
        terms_row = terms_rows[approval_id]
        terms = terms_row.terms()
        activity = rules.MonthActivity(
            delivered=row.get("delivered", 0),
            delivered_on_time=row.get("delivered_on_time", 0),
            provider_fault_failures=row.get("provider_fault_failures", 0),
            citizen_absent=row.get("citizen_absent", 0),
            late_cancelled=row.get("late_cancelled", 0),
        )
        carried = adjustments.get(approval_id, [])
        result = rules.settle(
            terms,
            activity,
            tuple(
                rules.Adjustment(
                    a.amount_ore,
                    ADJUSTMENT_MESSAGE,
                    {"month": corrected.strftime("%Y-%m"), "reason": a.reason},
                )
                for a, corrected in carried
            ),
        )
        values = {
            "municipality_id": municipality_id,
            "provider_id": provider_id,
            "approval_id": approval_id,
            "terms_id": terms_row.id,
            "month_on": month_on,
            "status": StatementStatus.DRAFT,
            "run_id": run_id,
            **{name: row.get(name, 0) for name in COUNT_FIELDS},
            "total_ore": result.total_ore,
            "prepared_by_user_id": actor.user_id,
            "prepared_at": now,
        }
        previous = existing.get(approval_id)
        if previous is not None and previous.id is not None:
            statement_id = previous.id
            if not await repository.update_draft(session, statement_id, values):
                raise StatementAlreadyApproved()  # approved since it was read
        else:
            try:
                async with session.begin_nested():
                    statement_id = await repository.insert_statement(session, values)
            except IntegrityError as exc:  # a concurrent run inserted it first
                raise RunInProgress() from exc
        line_ids: dict[rules.LineKind, int] = {}
        adjustment_ids = iter(a.id for a, _ in carried)
        for position, line in enumerate(result.lines, start=1):
            line_ids[line.kind] = await repository.insert_line(
                session,
                {
                    "statement_id": statement_id,
                    "position": position,
                    "kind": line.kind.value,
                    "quantity": line.quantity,
                    "unit_amount_ore": _decimal(line.unit_amount_ore),
                    "rate_bp": line.rate_bp,
                    "amount_ore": line.amount_ore,
                    "explanation": line.message,
                    "explanation_params_json": json.dumps(line.params, sort_keys=True),
                    "adjustment_id": next(adjustment_ids)
                    if line.kind == rules.LineKind.ADJUSTMENT
                    else None,
                },
            )
        if counts.get(approval_id):
            await _link(
                session,
                line_ids=line_ids,
                terms=terms,
                where={
                    "municipality_id": municipality_id,
                    "approval_id": approval_id,
                    "first": first,
                    "last": last,
                },
            )
        total_ore += result.total_ore
        summary.append({"statement_id": statement_id, "total_ore": result.total_ore})
        if progress:
            progress(done, len(to_settle))

    if not await repository.update_run(
        session, run_id, statements=len(to_settle), total_ore=total_ore
    ):
        raise RunInProgress()
    await audit.record(
        session,
        actor=actor,
        action="settlement.run",
        entity_type="settlement_run",
        entity_id=run_id,
        municipality_id=municipality_id,
        data={"month": month_on.strftime("%Y-%m"), "total_ore": total_ore, "statements": summary},
    )
    run = await repository.get_run(session, run_id)
    assert run is not None
    return run


# --- approval (four eyes) ----------------------------------------------------------------


async def _lock_month(session: AsyncSession, municipality_id: int, month_on: date) -> None:
    """Runs and approvals of one month take turns; whoever comes second while
    the first is at work is told so (409) instead of waiting on a request."""
    if not await repository.lock_month(session, municipality_id=municipality_id, month_on=month_on):
        raise MonthBusy()


async def _approve(session: AsyncSession, actor: Actor, statement: Statement) -> Statement:
    """Approves ``statement``, read after the caller took the month's lock."""
    assert statement.id is not None
    if statement.status == StatementStatus.APPROVED:
        raise StatementAlreadyApproved()
    if statement.prepared_by_user_id == actor.user_id:
        raise PreparerCannotApprove()
    # The month as the orders say now: unfinished orders, or any change since the
    # run, would leave orders unsettled under a final statement.
    [live] = await repository.month_counts(
        session,
        municipality_id=statement.municipality_id,
        first=statement.month_on,
        last=last_of_month(statement.month_on),
        approval_id=statement.approval_id,
    ) or [{name: 0 for name in COUNT_FIELDS}]
    if live["unfinished_orders"]:
        raise UnfinishedOrders(live["unfinished_orders"])
    if any(live[name] != getattr(statement, name) for name in COUNT_FIELDS):
        raise StatementOutOfDate()
    lines = await repository.lines_of(session, [statement.id])
    adjustment_ids = [line.adjustment_id for line in lines if line.adjustment_id is not None]
    if await repository.apply_adjustments(
        session, adjustment_ids=adjustment_ids, statement_id=statement.id
    ) != len(adjustment_ids):
        raise StatementOutOfDate()  # carried into another statement approved meanwhile

    chain = audit.chain_for(statement.municipality_id)
    seq, hash_ = await audit.head_for_update(session, chain=chain)
    now = utcnow()
    if not await repository.approve(
        session,
        statement_id=statement.id,
        approved_by_user_id=actor.user_id,
        approved_at=now,
        seq=seq,
        hash_=hash_,
    ):
        raise StatementAlreadyApproved()
    await audit.record(
        session,
        actor=actor,
        action="settlement.statement_approved",
        entity_type="settlement_statement",
        entity_id=statement.id,
        municipality_id=statement.municipality_id,
        data={
            "month": statement.month_on.strftime("%Y-%m"),
            "approval_id": statement.approval_id,
            "provider_id": statement.provider_id,
            "terms_id": statement.terms_id,
            "total_ore": statement.total_ore,
            "lines": [
                {"kind": line.kind, "quantity": line.quantity, "amount_ore": line.amount_ore}
                for line in lines
            ],
            "audit_chain_seq": seq,
            "audit_chain_hash": hash_,
        },
    )
    approved = await repository.get_statement(session, statement.id)
    assert approved is not None
    return approved


async def _statement_in_scope(
    session: AsyncSession, actor: Actor, statement_id: int, permission: Permission
) -> Statement:
    municipality_id = _municipality(actor, permission)
    statement = await repository.get_statement(session, statement_id)
    if statement is None or statement.municipality_id != municipality_id:
        raise StatementNotFound()
    return statement


async def approve_statement(session: AsyncSession, *, actor: Actor, statement_id: int) -> Statement:
    """Approves a draft; never by its preparer. Records the municipality's audit
    chain head (seq, hash) on the statement and in the approval's audit event."""
    statement = await _statement_in_scope(
        session, actor, statement_id, Permission.SETTLEMENT_APPROVE
    )
    await _lock_month(session, statement.municipality_id, statement.month_on)
    # Read again under the lock: a run may have replaced the draft meanwhile.
    statement = await _statement_in_scope(
        session, actor, statement_id, Permission.SETTLEMENT_APPROVE
    )
    return await _approve(session, actor, statement)


async def approve_month(session: AsyncSession, *, actor: Actor, month_on: date) -> list[Statement]:
    """Approves every draft of the month, all or none."""
    municipality_id = _municipality(actor, Permission.SETTLEMENT_APPROVE)
    await _lock_month(session, municipality_id, first_of_month(month_on))
    statements = await repository.statements_of_month(
        session, municipality_id=municipality_id, month_on=first_of_month(month_on)
    )
    drafts = [s for s in statements if s.status == StatementStatus.DRAFT]
    if not drafts:
        raise NothingToApprove()
    return [await _approve(session, actor, statement) for statement in drafts]


# --- adjustments ---------------------------------------------------------------------------


async def add_adjustment(
    session: AsyncSession, *, actor: Actor, statement_id: int, amount_ore: int, reason: str
) -> Adjustment:
    """A correction of an approved statement, carried as a line into the next
    settled month of the same approval."""
    statement = await _statement_in_scope(session, actor, statement_id, Permission.SETTLEMENT_RUN)
    reason = reason.strip()
    if not reason:
        raise AdjustmentNeedsReason()
    if amount_ore == 0:
        raise AdjustmentNeedsAmount()
    if statement.status != StatementStatus.APPROVED:
        raise AdjustmentOnDraft()
    adjustment_id = await repository.insert_adjustment(
        session,
        {
            "municipality_id": statement.municipality_id,
            "provider_id": statement.provider_id,
            "approval_id": statement.approval_id,
            "corrects_statement_id": statement_id,
            "amount_ore": amount_ore,
            "reason": reason,
            "created_by_user_id": actor.user_id,
            "created_at": utcnow(),
        },
    )
    await audit.record(
        session,
        actor=actor,
        action="settlement.adjustment_added",
        entity_type="settlement_statement",
        entity_id=statement_id,
        municipality_id=statement.municipality_id,
        data={"adjustment_id": adjustment_id, "amount_ore": amount_ore, "reason": reason},
    )
    adjustment = await repository.get_adjustment(session, adjustment_id)
    assert adjustment is not None
    return adjustment


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
    municipality_id = _municipality(actor, Permission.SETTLEMENT_VIEW)
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
    municipality_id = _municipality(actor, Permission.SETTLEMENT_VIEW)
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
    statement = await _statement_in_scope(session, actor, statement_id, Permission.SETTLEMENT_VIEW)
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
    if order.status == OrderStatus.DELIVERED:
        on_time = order.delivered_at is not None and order.delivered_at <= order.window_end_at
        return "on_time" if on_time else "late"
    if order.status == OrderStatus.FAILED:
        if order.failure_reason is not None and order.failure_reason.value == "citizen_absent":
            return "citizen_absent"
        return "provider_fault"
    if order.status == OrderStatus.LATE_CANCELLED:
        return "late_cancelled"
    return "other"


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
    municipality_id = _municipality(actor, Permission.SETTLEMENT_VIEW)
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
    municipality_id = _municipality(actor, Permission.SETTLEMENT_VIEW)
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


# --- checking an approved statement against the audit chain ---------------------------


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    message: str  # an N_() message id, with params
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StatementCheck:
    statement: Statement
    checks: list[ChainCheck]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


async def check_statement(
    session: AsyncSession, *, actor: Actor, statement_id: int
) -> StatementCheck:
    """What an auditor holding an approved statement wants proved: the
    municipality's chain is intact, the event the statement recorded as the
    head still has the recorded hash (so nothing before it was rewritten), and
    the approval's own event, right after it, states this statement's total and
    lines (so the statement was not changed after approval)."""
    statement = await _statement_in_scope(session, actor, statement_id, Permission.SETTLEMENT_VIEW)
    if statement.status != StatementStatus.APPROVED or statement.audit_chain_seq is None:
        raise OnlyApprovedCanBeChecked()
    assert statement.id is not None
    chain = audit.chain_for(statement.municipality_id)
    seq, recorded = statement.audit_chain_seq, statement.audit_chain_hash
    checks: list[ChainCheck] = []

    report = await audit.verify_chain(session, chain=chain)
    checks.append(
        ChainCheck(
            True,
            N_("The municipality's audit chain is intact ({events} events)."),
            {"events": report.events},
        )
        if report.ok
        else ChainCheck(
            False,
            N_("The municipality's audit chain is broken at event {seq}: {problem}"),
            {"seq": report.broken_at_seq, "problem": report.problem},
        )
    )

    anchor = await audit.event_at(session, chain=chain, seq=seq) if seq else None
    found = anchor.hash if anchor is not None else (GENESIS_HASH if seq == 0 else None)
    checks.append(
        ChainCheck(
            found == recorded,
            N_("Event {seq} still has the hash recorded on the statement.")
            if found == recorded
            else N_("Event {seq} no longer has the hash recorded on the statement."),
            {"seq": seq},
        )
    )

    approval = await audit.event_at(session, chain=chain, seq=seq + 1)
    lines = await repository.lines_of(session, [statement.id])
    stated: dict[str, Any] = {}
    if (
        approval is not None
        and approval.action == "settlement.statement_approved"
        and approval.entity_id == str(statement.id)
        and approval.prev_hash == recorded
    ):
        stated = json.loads(approval.data_json)
    now = {
        "total_ore": statement.total_ore,
        "lines": [line.amount_ore for line in sorted(lines, key=lambda line: line.position)],
    }
    matches = (
        bool(stated)
        and {
            "total_ore": stated.get("total_ore"),
            "lines": [line.get("amount_ore") for line in stated.get("lines", [])],
        }
        == now
    )
    checks.append(
        ChainCheck(
            matches,
            N_("The approval (event {seq}) states the total and the lines the statement shows now.")
            if matches
            else N_(
                "The approval (event {seq}) does not state the total and the lines the "
                "statement shows now."
            ),
            {"seq": seq + 1},
        )
    )
    return StatementCheck(statement=statement, checks=checks)
