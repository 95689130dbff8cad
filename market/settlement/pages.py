"""Settlement pages: months, a month's statements, a statement with its lines,
the orders behind a line and an order's events; approval, adjustments and
exports (CSV, XLSX). Admins run and approve; auditors read and export."""

import asyncio
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from market.auth.dependencies import Session, require
from market.auth.permissions import Actor, Permission
from market.clock import parse_month
from market.errors import N_, AppError
from market.i18n import gettext
from market.i18n import sentence as i18n_sentence
from market.orders.pages import KITCHEN_STATUS_LABELS
from market.settlement import exports, service
from market.settlement.explain import percent
from market.templating import kroner, month_words, render

router = APIRouter(include_in_schema=False)

Viewer = Annotated[Actor, Depends(require(Permission.SETTLEMENT_VIEW))]
Runner = Annotated[Actor, Depends(require(Permission.SETTLEMENT_RUN))]
Approver = Annotated[Actor, Depends(require(Permission.SETTLEMENT_APPROVE))]

KIND_LABELS = {
    "delivered": N_("Delivered units"),
    "delivered_above_rebate_threshold": N_("Delivered above the rebate threshold"),
    "citizen_absent": N_("Citizen not at home"),
    "late_cancelled": N_("Cancelled after the cut-off"),
    "volume_guarantee": N_("Volume guarantee"),
    "sla_malus": N_("On-time malus"),
    "sla_bonus": N_("On-time bonus"),
    "adjustment": N_("Adjustment"),
}
STATUS_LABELS = {
    "not_run": N_("Not run"),
    "draft": N_("Draft"),
    "approved": N_("Approved"),
}
DONE_MESSAGES = {
    "run": N_("The month was run. The statements are drafts until a second person approves them."),
    "approved": N_("Approved. An approved statement never changes."),
    "adjusted": N_("The adjustment is saved. It is carried into the next settled month."),
}


def _month_key(month_on: date) -> str:
    return month_on.strftime("%Y-%m")


def _context(**extra: Any) -> dict[str, Any]:
    return {
        "kind_labels": KIND_LABELS,
        "status_labels": STATUS_LABELS,
        # The kitchen's words for an order's states, so the auditor reads the same.
        "order_status_labels": KITCHEN_STATUS_LABELS,
        "outcome_labels": service.OUTCOME_LABELS,
        "month_key": _month_key,
        "money": kroner,
        "percent": percent,
        "month_words": month_words,
        **extra,
    }


def _done(done: str | None) -> str | None:
    return gettext(DONE_MESSAGES[done]) if done in DONE_MESSAGES else None


# --- months ------------------------------------------------------------------------


async def _months_page(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    error: str | None = None,
    month: str = "",
    status_code: int = 200,
) -> Response:
    months = await service.months(session, actor=actor)
    return render(
        request,
        "settlement/months.html",
        _context(months=months, error=error, month=month),
        status_code=status_code,
    )


@router.get("/settlement", response_class=HTMLResponse)
async def months_page(request: Request, session: Session, actor: Viewer) -> Response:
    return await _months_page(request, session, actor)


@router.post("/settlement/run", response_class=HTMLResponse)
async def run_month(
    request: Request, session: Session, actor: Runner, month: Annotated[str, Form()] = ""
) -> Response:
    try:
        month_on = parse_month(month)
        await service.run_month(session, actor=actor, month_on=month_on)
    except AppError as exc:
        return await _months_page(
            request, session, actor, error=exc.sentence(), month=month, status_code=exc.status_code
        )
    return RedirectResponse(f"/settlement/months/{_month_key(month_on)}?done=run", status_code=303)


async def _month_page(
    request: Request,
    session: Session,
    actor: Actor,
    month_on: date,
    *,
    error: str | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> Response:
    view = await service.month_view(session, actor=actor, month_on=month_on)
    return render(
        request,
        "settlement/month.html",
        _context(view=view, error=error, done=_done(done)),
        status_code=status_code,
    )


@router.get("/settlement/months/{month}", response_class=HTMLResponse)
async def month_page(
    request: Request, session: Session, actor: Viewer, month: str, done: str | None = None
) -> Response:
    return await _month_page(request, session, actor, parse_month(month), done=done)


@router.post("/settlement/months/{month}/approve", response_class=HTMLResponse)
async def approve_month(
    request: Request, session: Session, actor: Approver, month: str
) -> Response:
    month_on = parse_month(month)
    try:
        await service.approve_month(session, actor=actor, month_on=month_on)
    except AppError as exc:
        return await _month_page(
            request, session, actor, month_on, error=exc.sentence(), status_code=exc.status_code
        )
    return RedirectResponse(f"/settlement/months/{month}?done=approved", status_code=303)


@router.get("/settlement/months/{month}/statements.csv")
async def month_csv(session: Session, actor: Viewer, month: str) -> Response:
    view = await service.month_view(session, actor=actor, month_on=parse_month(month))
    return Response(
        exports.month_csv(view),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="statements-{month}.csv"'},
    )


# --- a statement ----------------------------------------------------------------------


async def _statement_page(
    request: Request,
    session: Session,
    actor: Actor,
    statement_id: int,
    *,
    error: str | None = None,
    done: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    view = await service.statement_view(session, actor=actor, statement_id=statement_id)
    return render(
        request,
        "settlement/statement.html",
        _context(view=view, error=error, done=_done(done), form=form or {}),
        status_code=status_code,
    )


@router.get("/settlement/statements/{statement_id}", response_class=HTMLResponse)
async def statement_page(
    request: Request, session: Session, actor: Viewer, statement_id: int, done: str | None = None
) -> Response:
    return await _statement_page(request, session, actor, statement_id, done=done)


@router.post("/settlement/statements/{statement_id}/approve", response_class=HTMLResponse)
async def approve_statement(
    request: Request, session: Session, actor: Approver, statement_id: int
) -> Response:
    try:
        await service.approve_statement(session, actor=actor, statement_id=statement_id)
    except AppError as exc:
        return await _statement_page(
            request, session, actor, statement_id, error=exc.sentence(), status_code=exc.status_code
        )
    return RedirectResponse(f"/settlement/statements/{statement_id}?done=approved", status_code=303)


@router.post("/settlement/statements/{statement_id}/adjustments", response_class=HTMLResponse)
async def add_adjustment(
    request: Request,
    session: Session,
    actor: Runner,
    statement_id: int,
    amount: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    try:
        await service.add_adjustment(
            session,
            actor=actor,
            statement_id=statement_id,
            amount_ore=service.parse_signed_kroner(amount),
            reason=reason,
        )
    except AppError as exc:
        return await _statement_page(
            request,
            session,
            actor,
            statement_id,
            error=exc.sentence(),
            form={"amount": amount, "reason": reason},
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/settlement/statements/{statement_id}?done=adjusted", status_code=303)


@router.get("/settlement/statements/{statement_id}/export.csv")
async def statement_csv(session: Session, actor: Viewer, statement_id: int) -> Response:
    export = await service.statement_export(session, actor=actor, statement_id=statement_id)
    return Response(
        exports.statement_csv(export),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="statement-{statement_id}.csv"'},
    )


@router.get("/settlement/statements/{statement_id}/export.xlsx")
async def statement_xlsx(session: Session, actor: Viewer, statement_id: int) -> Response:
    export = await service.statement_export(session, actor=actor, statement_id=statement_id)
    # Writing a workbook of thousands of orders blocks for a while: not on the loop.
    content = await asyncio.to_thread(exports.statement_xlsx, export)
    return Response(
        content,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="statement-{statement_id}.xlsx"'},
    )


# --- drill-down -------------------------------------------------------------------------


@router.get("/settlement/statements/{statement_id}/chain-check", response_class=HTMLResponse)
async def chain_check_page(
    request: Request, session: Session, actor: Viewer, statement_id: int
) -> Response:
    result = await service.check_statement(session, actor=actor, statement_id=statement_id)
    checks = [(check.ok, i18n_sentence(check.message, check.params)) for check in result.checks]
    return render(request, "settlement/chain_check.html", _context(result=result, checks=checks))


@router.get("/settlement/lines/{line_id}", response_class=HTMLResponse)
async def line_page(
    request: Request,
    session: Session,
    actor: Viewer,
    line_id: int,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    view = await service.line_orders(session, actor=actor, line_id=line_id, page=page)
    return render(request, "settlement/line.html", _context(view=view))


@router.get("/settlement/orders/{order_id}", response_class=HTMLResponse)
async def order_page(request: Request, session: Session, actor: Viewer, order_id: int) -> Response:
    history = await service.order_history(session, actor=actor, order_id=order_id)
    return render(request, "settlement/order.html", _context(history=history))
