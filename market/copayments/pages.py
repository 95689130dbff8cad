"""Co-payment statement pages: the admin's months, per-citizen totals and the
billing CSV; the citizen's own "Min egenbetaling"; a citizen's statements on
the case worker's record."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from market.auth.dependencies import Session, require
from market.auth.permissions import Actor, Permission
from market.clock import add_months, first_of_month, parse_month, today
from market.copayments import service
from market.errors import N_, AppError
from market.templating import render

router = APIRouter(include_in_schema=False)
P = Permission
Viewer = Annotated[Actor, Depends(require(P.COPAYMENT_VIEW))]
Issuer = Annotated[Actor, Depends(require(P.COPAYMENT_STATEMENT_ISSUE))]

OUTCOMES = {
    "delivered": N_("Delivered"),
    "late_cancelled": N_("Cancelled too late"),
    "citizen_absent": N_("Not at home when the meal came"),
}


def _helpers() -> dict[str, Any]:
    return {"outcomes": OUTCOMES}


async def _admin_page(
    request: Request,
    session: Session,
    actor: Actor,
    month: str | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    months = await service.months(session, actor=actor)
    chosen = parse_month(month) if month else (months[0].month_on if months else None)
    citizens = (
        await service.month_statements(session, actor=actor, month_on=chosen) if chosen else []
    )
    last_month = add_months(first_of_month(today()), -1)
    return render(
        request,
        "copayments/admin.html",
        {
            **_helpers(),
            "months": months,
            "chosen": chosen,
            "citizens": citizens,
            "issue_month": context.pop("issue_month", last_month.strftime("%Y-%m")),
            "charges_when_absent": await service.charges_when_absent(session, actor=actor),
            "done": request.query_params.get("done"),
            **context,
        },
        status_code=status_code,
    )


@router.get("/copayments", response_class=HTMLResponse)
async def admin_page(
    request: Request, session: Session, actor: Viewer, month: str | None = None
) -> Response:
    return await _admin_page(request, session, actor, month)


@router.post("/copayments/settings", response_class=HTMLResponse)
async def settings(request: Request, session: Session, actor: Issuer) -> Response:
    form = await request.form()
    await service.set_charge_when_absent(
        session, actor=actor, charge=form.get("charge_when_absent") == "yes"
    )
    return RedirectResponse("/copayments?done=settings#absent", status_code=303)


@router.post("/copayments/issue", response_class=HTMLResponse)
async def issue(request: Request, session: Session, actor: Issuer) -> Response:
    form = await request.form()
    text = str(form.get("month") or "")
    try:
        result = await service.issue_month(session, actor=actor, month_on=parse_month(text))
    except AppError as exc:
        return await _admin_page(
            request,
            session,
            actor,
            None,
            status_code=exc.status_code,
            error=exc.sentence(),
            issue_month=text,
        )
    month = result.month_on.strftime("%Y-%m")
    return RedirectResponse(f"/copayments?month={month}&done=issued", status_code=303)


@router.get("/copayments/export.csv")
async def export_csv(session: Session, actor: Viewer, month: Annotated[str, Query()]) -> Response:
    month_on = parse_month(month)
    body = await service.month_csv(session, actor=actor, month_on=month_on)
    filename = f"egenbetaling-{month_on.strftime('%Y-%m')}.csv"
    return Response(
        # A byte-order mark, so spreadsheets read æ, ø and å right.
        content="\ufeff" + body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/my-copayments", response_class=HTMLResponse)
async def my_copayments(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(P.VOUCHER_VIEW_OWN))],
    citizen: Annotated[int | None, Query()] = None,
) -> Response:
    view = await service.own_statements(session, actor=actor, citizen_id=citizen)
    return render(request, "copayments/mine.html", {**_helpers(), "view": view})


@router.get("/citizens/{citizen_id}/copayments", response_class=HTMLResponse)
async def citizen_copayments(
    request: Request, session: Session, actor: Viewer, citizen_id: int
) -> Response:
    view = await service.citizen_statements(session, actor=actor, citizen_id=citizen_id)
    return render(request, "copayments/citizen.html", {**_helpers(), "view": view})
