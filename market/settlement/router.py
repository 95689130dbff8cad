"""Settlement JSON API: a month's statements, a statement with its lines, run
a month, approve a statement or a month."""

from typing import Annotated

from fastapi import APIRouter, Depends, status

from market.auth.dependencies import Session, require
from market.auth.permissions import Actor, Permission
from market.clock import parse_month
from market.settlement import service
from market.settlement.models import Statement
from market.settlement.schemas import (
    LineOut,
    MonthStatementsOut,
    RunIn,
    RunOut,
    StatementDetailOut,
    StatementOut,
)

router = APIRouter(prefix="/api/v1", tags=["settlement"])

Viewer = Annotated[Actor, Depends(require(Permission.SETTLEMENT_VIEW))]
Runner = Annotated[Actor, Depends(require(Permission.SETTLEMENT_RUN))]
Approver = Annotated[Actor, Depends(require(Permission.SETTLEMENT_APPROVE))]


def _statement_out(statement: Statement, provider_name: str) -> StatementOut:
    assert statement.id is not None
    return StatementOut(
        id=statement.id,
        provider_id=statement.provider_id,
        provider_name=provider_name,
        approval_id=statement.approval_id,
        month=statement.month_on.strftime("%Y-%m"),
        status=statement.status.value,
        delivered=statement.delivered,
        delivered_on_time=statement.delivered_on_time,
        provider_fault_failures=statement.provider_fault_failures,
        citizen_absent=statement.citizen_absent,
        late_cancelled=statement.late_cancelled,
        unfinished_orders=statement.unfinished_orders,
        total_ore=statement.total_ore,
        prepared_by_user_id=statement.prepared_by_user_id,
        approved_by_user_id=statement.approved_by_user_id,
        approved_at=statement.approved_at,
        audit_chain_seq=statement.audit_chain_seq,
        audit_chain_hash=statement.audit_chain_hash,
    )


def _detail(view: service.StatementView) -> StatementDetailOut:
    base = _statement_out(view.statement, view.provider_name)
    return StatementDetailOut(
        **base.model_dump(),
        terms_id=view.statement.terms_id,
        terms_version=view.terms.version,
        terms_valid_from=view.terms.valid_from,
        lines=[
            LineOut(
                position=lv.line.position,
                kind=lv.line.kind,
                quantity=lv.line.quantity,
                unit_amount_ore=None
                if lv.line.unit_amount_ore is None
                else str(lv.line.unit_amount_ore),
                rate_bp=lv.line.rate_bp,
                amount_ore=lv.line.amount_ore,
                orders=lv.orders,
                explanation=lv.text,
                message=lv.line.explanation,
                params=lv.params,
            )
            for lv in view.lines
        ],
    )


@router.get("/settlement/months/{month}/statements", response_model=MonthStatementsOut)
async def month_statements(session: Session, actor: Viewer, month: str) -> MonthStatementsOut:
    view = await service.month_view(session, actor=actor, month_on=parse_month(month))
    return MonthStatementsOut(
        month=month,
        total_ore=view.total_ore,
        statements=[_statement_out(r.statement, r.provider_name) for r in view.statements],
    )


@router.get("/settlement/statements/{statement_id}", response_model=StatementDetailOut)
async def statement(session: Session, actor: Viewer, statement_id: int) -> StatementDetailOut:
    return _detail(await service.statement_view(session, actor=actor, statement_id=statement_id))


@router.post("/settlement/runs", response_model=RunOut, status_code=status.HTTP_201_CREATED)
async def run_month(session: Session, actor: Runner, data: RunIn) -> RunOut:
    run = await service.run_month(session, actor=actor, month_on=parse_month(data.month))
    assert run.id is not None
    return RunOut(
        run_id=run.id,
        month=run.month_on.strftime("%Y-%m"),
        statements=run.statements,
        total_ore=run.total_ore,
    )


@router.post("/settlement/statements/{statement_id}/approve", response_model=StatementDetailOut)
async def approve_statement(
    session: Session, actor: Approver, statement_id: int
) -> StatementDetailOut:
    await service.approve_statement(session, actor=actor, statement_id=statement_id)
    return _detail(await service.statement_view(session, actor=actor, statement_id=statement_id))


@router.post("/settlement/months/{month}/approve", response_model=MonthStatementsOut)
async def approve_month(session: Session, actor: Approver, month: str) -> MonthStatementsOut:
    month_on = parse_month(month)
    await service.approve_month(session, actor=actor, month_on=month_on)
    view = await service.month_view(session, actor=actor, month_on=month_on)
    return MonthStatementsOut(
        month=month,
        total_ore=view.total_ore,
        statements=[_statement_out(r.statement, r.provider_name) for r in view.statements],
    )
