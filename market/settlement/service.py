"""The monthly settlement: run a month (drafts), approve with four eyes,
correct approved statements with adjustments, and read it all for pages,
exports and auditors. The rules themselves are the pure rules.settle.

This module runs a month; the other parts live in one sub-package each
(approval, adjustments, reading, checks) and are re-exported here, so this
module stays the package's API (what routers, pages, finance, the CLI and
tests import)."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.auth.permissions import Actor, Permission
from market.clock import first_of_month, last_of_month
from market.db import utcnow
from market.errors import N_
from market.settlement import repository, rules
from market.settlement.adjustments.service import add_adjustment
from market.settlement.approval.service import approve_month, approve_statement
from market.settlement.checks.service import ChainCheck, StatementCheck, check_statement
from market.settlement.exceptions import (
    MonthNotEnded,
    NoTermsInForce,
    RunInProgress,
    StatementAlreadyApproved,
)
from market.settlement.models import (
    Adjustment,
    SettlementRun,
    Statement,
    StatementStatus,
)
from market.settlement.reading.service import (
    OUTCOME_LABELS,
    LineOrders,
    LineView,
    MonthRow,
    MonthView,
    OrderHistory,
    OrderRow,
    StatementExport,
    StatementRow,
    StatementView,
    line_orders,
    mask_name,
    month_view,
    months,
    order_history,
    outcome,
    statement_export,
    statement_view,
)
from market.settlement.scope import (
    COUNT_FIELDS,
    lock_month,
    month_has_ended,
    municipality,
    parse_signed_kroner,
)
from providers.models import ContractTerms

__all__ = [
    "ADJUSTMENT_MESSAGE",
    "COUNT_FIELDS",
    "OUTCOME_LABELS",
    "ChainCheck",
    "LineOrders",
    "LineView",
    "MonthRow",
    "MonthView",
    "OrderHistory",
    "OrderRow",
    "Progress",
    "StatementCheck",
    "StatementExport",
    "StatementRow",
    "StatementView",
    "add_adjustment",
    "approve_month",
    "approve_statement",
    "check_statement",
    "line_orders",
    "mask_name",
    "month_has_ended",
    "month_view",
    "months",
    "order_history",
    "outcome",
    "parse_signed_kroner",
    "run_month",
    "statement_export",
    "statement_view",
]

Progress = Callable[[int, int], None]

ADJUSTMENT_MESSAGE = N_("Correction of the statement for {month}: {reason}")

# --- running a month -----------------------------------------------------------------


def _has_guarantee(row: ContractTerms) -> bool:
    return row.min_units_per_month > 0 and row.shortfall_rate_bp > 0


def _decimal(value: Fraction | None) -> Decimal | None:
    return None if value is None else Decimal(str(rules.exact(value)))


@dataclass
class _Links:
    """The lines each approval's orders go behind, gathered while the
    statements are written and linked at the end, one INSERT … SELECT per kind
    of line for the whole month (not one per approval and line)."""

    splits: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    delivered: dict[int, int] = field(default_factory=dict)
    shares: dict[rules.LineKind, dict[int, int]] = field(default_factory=dict)

    def add(
        self, approval_id: int, line_ids: dict[rules.LineKind, int], terms: rules.ContractTerms
    ) -> None:
        """Deliveries behind the delivery lines, absent and late-cancelled behind
        their share lines, provider-fault failures behind the SLA line (they pay
        nothing but count in the on-time rate)."""
        full = line_ids.get(rules.LineKind.DELIVERED)
        rebated = line_ids.get(rules.LineKind.DELIVERED_ABOVE_REBATE_THRESHOLD)
        if full is not None and rebated is not None:
            assert terms.rebate_threshold_units is not None
            self.splits[approval_id] = (full, rebated, terms.rebate_threshold_units)
        elif full is not None or rebated is not None:
            line_id = full if full is not None else rebated
            assert line_id is not None
            self.delivered[approval_id] = line_id
        for kind, _ in _SHARE_LINES:
            if kind in line_ids:
                self.shares.setdefault(kind, {})[approval_id] = line_ids[kind]


_SHARE_LINES = (
    (rules.LineKind.CITIZEN_ABSENT, repository.IS_ABSENT),
    (rules.LineKind.LATE_CANCELLED, repository.IS_LATE_CANCELLED),
    (rules.LineKind.SLA_MALUS, repository.IS_PROVIDER_FAULT),
    (rules.LineKind.SLA_BONUS, repository.IS_PROVIDER_FAULT),
)


async def _link(session: AsyncSession, month: "_Month", links: _Links) -> None:
    """The orders behind every line of the run."""
    await repository.link_deliveries_split(session, splits=links.splits, **month.where)
    await repository.link_orders(
        session, line_ids=links.delivered, condition=repository.IS_DELIVERED, **month.where
    )
    for kind, condition in _SHARE_LINES:
        await repository.link_orders(
            session, line_ids=links.shares.get(kind, {}), condition=condition, **month.where
        )


@dataclass(frozen=True)
class _Month:
    """The month being settled, and the run settling it."""

    actor: Actor
    municipality_id: int
    month_on: date
    last: date
    now: datetime

    @property
    def where(self) -> dict[str, Any]:
        return {
            "municipality_id": self.municipality_id,
            "first": self.month_on,
            "last": self.last,
        }


@dataclass(frozen=True)
class _Plan:
    """What the run will settle: per approval the provider and the month's counts,
    the terms in force, the statements already there and the open adjustments."""

    counts: dict[int, dict[str, int]]
    wanted: dict[int, tuple[int, dict[str, int]]]
    terms: dict[int, ContractTerms]
    existing: dict[int, Statement]
    to_settle: list[int]
    adjustments: dict[int, list[tuple[Adjustment, date]]]


async def run_month(
    session: AsyncSession, *, actor: Actor, month_on: date, progress: Progress | None = None
) -> SettlementRun:
    """Settles the actor's municipality's month as drafts: one statement per
    approval with orders in the month, or with a volume guarantee in force.
    Drafts are replaced; approved statements are never touched. The same data
    gives the same statements, to the øre."""
    month = await _open_month(session, actor, month_on)
    plan = await _plan(session, month)
    await _clear_drafts(session, plan)
    run_id = await _start_run(session, month)
    summary: list[dict[str, int]] = []
    links = _Links()
    if progress:
        progress(0, len(plan.to_settle))
    for done, approval_id in enumerate(plan.to_settle, start=1):
        summary.append(await _settle_approval(session, month, plan, run_id, approval_id, links))
        if progress:
            progress(done, len(plan.to_settle))
    await _link(session, month, links)
    return await _finish_run(session, month, run_id, summary)


async def _open_month(session: AsyncSession, actor: Actor, month_on: date) -> _Month:
    """The actor's municipality, an ended month, and the month's lock."""
    municipality_id = municipality(actor, Permission.SETTLEMENT_RUN)
    month_on = first_of_month(month_on)
    if not month_has_ended(month_on):
        raise MonthNotEnded(month_on)
    await lock_month(session, municipality_id, month_on)
    return _Month(actor, municipality_id, month_on, last_of_month(month_on), utcnow())


async def _plan(session: AsyncSession, month: _Month) -> _Plan:
    counts = {
        row["approval_id"]: row for row in await repository.month_counts(session, **month.where)
    }
    candidates = dict(await repository.guaranteed_approvals(session, **month.where))
    terms = await repository.terms_in_force(
        session, approval_ids=sorted(set(counts) | set(candidates)), last=month.last
    )
    wanted = _wanted(month, counts, candidates, terms)
    existing = {
        s.approval_id: s
        for s in await repository.statements_of_month(
            session, municipality_id=month.municipality_id, month_on=month.month_on
        )
    }
    to_settle = sorted(
        a for a in wanted if a not in existing or existing[a].status == StatementStatus.DRAFT
    )
    adjustments: dict[int, list[tuple[Adjustment, date]]] = {}
    for adjustment, corrected_month in await repository.open_adjustments(
        session, approval_ids=to_settle, before=month.month_on
    ):
        adjustments.setdefault(adjustment.approval_id, []).append((adjustment, corrected_month))
    return _Plan(counts, wanted, terms, existing, to_settle, adjustments)


def _wanted(
    month: _Month,
    counts: dict[int, dict[str, int]],
    candidates: dict[int, int],
    terms: dict[int, ContractTerms],
) -> dict[int, tuple[int, dict[str, int]]]:
    """Every approval with orders (which must have terms in force), and every
    approval whose terms carry a volume guarantee: (provider id, counts)."""
    wanted: dict[int, tuple[int, dict[str, int]]] = {}
    for approval_id, row in counts.items():
        if approval_id not in terms:
            raise NoTermsInForce(approval_id, month.month_on)
        wanted[approval_id] = (row["provider_id"], row)
    for approval_id, provider_id in candidates.items():
        terms_row = terms.get(approval_id)
        if approval_id not in wanted and terms_row is not None and _has_guarantee(terms_row):
            wanted[approval_id] = (provider_id, {"provider_id": provider_id})
    return wanted


async def _clear_drafts(session: AsyncSession, plan: _Plan) -> None:
    """Empties the drafts about to be re-settled and removes those no longer wanted."""
    drafts = [s for s in plan.existing.values() if s.status == StatementStatus.DRAFT]
    await repository.clear_drafts(session, [s.id for s in drafts if s.id is not None])
    await repository.delete_statements(
        session, [s.id for s in drafts if s.id is not None and s.approval_id not in plan.wanted]
    )


async def _start_run(session: AsyncSession, month: _Month) -> int:
    return await repository.add_run(
        session,
        {
            "municipality_id": month.municipality_id,
            "month_on": month.month_on,
            "run_by_user_id": month.actor.user_id,
            "run_at": month.now,
        },
    )


async def _settle_approval(
    session: AsyncSession,
    month: _Month,
    plan: _Plan,
    run_id: int,
    approval_id: int,
    links: _Links,
) -> dict[str, int]:
    """One approval's statement: computed by the rules, stored as a draft with its
    lines; the lines its orders go behind are added to ``links``."""
    provider_id, row = plan.wanted[approval_id]
    terms_row = plan.terms[approval_id]
    terms = terms_row.terms()
    carried = plan.adjustments.get(approval_id, [])
    result = rules.settle(terms, _activity(row), _carried(carried))
    values = {
        "municipality_id": month.municipality_id,
        "provider_id": provider_id,
        "approval_id": approval_id,
        "terms_id": terms_row.id,
        "month_on": month.month_on,
        "status": StatementStatus.DRAFT,
        "run_id": run_id,
        **{name: row.get(name, 0) for name in COUNT_FIELDS},
        "total_ore": result.total_ore,
        "prepared_by_user_id": month.actor.user_id,
        "prepared_at": month.now,
    }
    statement_id = await _save_draft(session, plan.existing.get(approval_id), values)
    line_ids = await _insert_lines(session, statement_id, result, [a.id for a, _ in carried])
    if plan.counts.get(approval_id):
        links.add(approval_id, line_ids, terms)
    return {"statement_id": statement_id, "total_ore": result.total_ore}


def _activity(row: dict[str, int]) -> rules.MonthActivity:
    return rules.MonthActivity(
        delivered=row.get("delivered", 0),
        delivered_on_time=row.get("delivered_on_time", 0),
        provider_fault_failures=row.get("provider_fault_failures", 0),
        citizen_absent=row.get("citizen_absent", 0),
        late_cancelled=row.get("late_cancelled", 0),
    )


def _carried(carried: list[tuple[Adjustment, date]]) -> tuple[rules.AdjustmentInput, ...]:
    return tuple(
        rules.AdjustmentInput(
            a.amount_ore,
            ADJUSTMENT_MESSAGE,
            {"month": corrected.strftime("%Y-%m"), "reason": a.reason},
        )
        for a, corrected in carried
    )


async def _save_draft(
    session: AsyncSession, previous: Statement | None, values: dict[str, Any]
) -> int:
    """Replaces the approval's draft, or inserts the month's first statement."""
    if previous is not None and previous.id is not None:
        if not await repository.update_draft(session, previous.id, values):
            raise StatementAlreadyApproved()  # approved since it was read
        return previous.id
    try:
        async with session.begin_nested():
            return await repository.insert_statement(session, values)
    except IntegrityError as exc:  # a concurrent run inserted it first
        raise RunInProgress() from exc


async def _insert_lines(
    session: AsyncSession,
    statement_id: int,
    result: rules.StatementCalculation,
    adjustment_ids: list[int | None],
) -> dict[rules.LineKind, int]:
    """The statement's lines in order; adjustment lines name the adjustment they carry."""
    line_ids: dict[rules.LineKind, int] = {}
    carried = iter(adjustment_ids)
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
                "adjustment_id": next(carried) if line.kind == rules.LineKind.ADJUSTMENT else None,
            },
        )
    return line_ids


async def _finish_run(
    session: AsyncSession, month: _Month, run_id: int, summary: list[dict[str, int]]
) -> SettlementRun:
    """The run's totals and its audit event."""
    total_ore = sum(row["total_ore"] for row in summary)
    if not await repository.update_run(
        session, run_id, statements=len(summary), total_ore=total_ore
    ):
        raise RunInProgress()
    await audit.record(
        session,
        actor=month.actor,
        action="settlement.run",
        entity_type="settlement_run",
        entity_id=run_id,
        municipality_id=month.municipality_id,
        data={
            "month": month.month_on.strftime("%Y-%m"),
            "total_ore": total_ore,
            "statements": summary,
        },
    )
    run = await repository.get_run(session, run_id)
    assert run is not None
    return run
