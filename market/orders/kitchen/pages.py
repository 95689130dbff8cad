"""The provider's kitchen: the board, the packing and route lists, and the
driver's page (for a phone in one hand)."""

import secrets
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from market.auth.dependencies import Session, require
from market.auth.permissions import Actor, Permission
from market.clock import COPENHAGEN
from market.dietary import ALLERGEN_LABELS, DIET_FORM_LABELS
from market.errors import N_, AppError, InvalidInput
from market.i18n import gettext
from market.orders.alerts.pages import OBSERVATION_LABELS
from market.orders.fulfilment import driver, pauses
from market.orders.fulfilment import service as fulfilment_service
from market.orders.fulfilment.pages import PAUSE_REASONS
from market.orders.kitchen import service as kitchen_service
from market.orders.models import FailureReason, OrderStatus
from market.templating import render

router = APIRouter(include_in_schema=False)


# --- the provider's kitchen ----------------------------------------------------

Kitchen = Annotated[Actor, Depends(require(Permission.ORDER_FULFIL))]

KITCHEN_STATUS_LABELS = {
    OrderStatus.PLACED: N_("New"),
    OrderStatus.ACCEPTED: N_("Accepted"),
    OrderStatus.REJECTED: N_("Rejected"),
    OrderStatus.EXPIRED: N_("Expired"),
    OrderStatus.CANCELLED: N_("Cancelled"),
    OrderStatus.LATE_CANCELLED: N_("Cancelled after the cut-off"),
    OrderStatus.OUT_FOR_DELIVERY: N_("Out for delivery"),
    OrderStatus.DELIVERED: N_("Delivered"),
    OrderStatus.FAILED: N_("Not delivered"),
}
FAILURE_LABELS = {
    FailureReason.CITIZEN_ABSENT: N_("Citizen did not open the door"),
    FailureReason.NOT_DELIVERED: N_("Not delivered"),
    FailureReason.TOO_LATE: N_("Refused: too late"),
    FailureReason.WRONG_MEAL: N_("Wrong meal"),
}
KITCHEN_DONE = {
    "accepted": N_("The selected orders are accepted."),
    "rejected": N_("The order is rejected; the citizen can see your reason."),
    "out": N_("The selected orders are out for delivery."),
    "delivered": N_("The order is marked delivered."),
    "failed": N_("The failed delivery is recorded."),
    "none": N_("No orders were selected."),
}
KITCHEN_LABELS = {
    "pause_reasons": PAUSE_REASONS,
    "diets": DIET_FORM_LABELS,
    "allergens": ALLERGEN_LABELS,
    "statuses": KITCHEN_STATUS_LABELS,
    "failures": FAILURE_LABELS,
}


def _kitchen_day(value: str | None) -> date:
    text = (value or "").strip()
    if not text:
        return datetime.now(COPENHAGEN).date()
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(N_("{value} is not a date (YYYY-MM-DD)."), value=text) from exc


def _back(day: date, done: str) -> RedirectResponse:
    return RedirectResponse(f"/kitchen?day={day.isoformat()}&done={done}", status_code=303)


async def _board_error(
    request: Request, session: Session, actor: Actor, day: date, exc: AppError
) -> Response:
    """The board again, with the sentence that says why nothing changed."""
    board = await kitchen_service.kitchen_board(session, actor=actor, day=day)
    paused = await pauses.paused_customers(session, actor=actor, day=day)
    return render(
        request,
        "orders/kitchen_board.html",
        {**KITCHEN_LABELS, "board": board, "paused": paused, "error": exc.sentence()},
        status_code=exc.status_code,
    )


@router.get("/kitchen", response_class=HTMLResponse)
async def kitchen_board(
    request: Request, session: Session, actor: Kitchen, day: str = "", done: str = ""
) -> Response:
    board = await kitchen_service.kitchen_board(session, actor=actor, day=_kitchen_day(day))
    notice = KITCHEN_DONE.get(done)
    paused = await pauses.paused_customers(session, actor=actor, day=board.day)
    return render(
        request,
        "orders/kitchen_board.html",
        {
            **KITCHEN_LABELS,
            "board": board,
            "paused": paused,
            "notice": gettext(notice) if notice else None,
        },
    )


@router.post("/kitchen/accept", response_class=HTMLResponse)
async def kitchen_accept(
    request: Request,
    session: Session,
    actor: Kitchen,
    day: Annotated[str, Form()] = "",
    order_ids: Annotated[list[int], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
) -> Response:
    return await _on_chosen(
        request, session, actor, day, order_ids, fulfilment_service.accept_orders, "accepted"
    )


@router.post("/kitchen/out-for-delivery", response_class=HTMLResponse)
async def kitchen_out_for_delivery(
    request: Request,
    session: Session,
    actor: Kitchen,
    day: Annotated[str, Form()] = "",
    order_ids: Annotated[list[int], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
) -> Response:
    return await _on_chosen(
        request, session, actor, day, order_ids, fulfilment_service.mark_out_for_delivery, "out"
    )


async def _on_chosen(
    request: Request,
    session: Session,
    actor: Actor,
    day: str,
    order_ids: list[int],
    move: Callable[..., Awaitable[Any]],
    notice: str,
) -> Response:
    """One move for the orders ticked on the board: back to the board with a
    notice, or the board with the refusal (nothing moved)."""
    on = _kitchen_day(day)
    if not order_ids:
        return _back(on, "none")
    try:
        await move(session, actor=actor, order_ids=order_ids)
    except AppError as exc:
        return await _board_error(request, session, actor, on, exc)
    return _back(on, notice)


@router.post("/kitchen/orders/{order_id}/reject", response_class=HTMLResponse)
async def kitchen_reject(
    request: Request,
    session: Session,
    actor: Kitchen,
    order_id: int,
    day: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    on = _kitchen_day(day)
    try:
        await fulfilment_service.reject_order(
            session, actor=actor, order_id=order_id, reason=reason
        )
    except AppError as exc:
        return await _board_error(request, session, actor, on, exc)
    return _back(on, "rejected")


@router.post("/kitchen/orders/{order_id}/delivered", response_class=HTMLResponse)
async def kitchen_delivered(
    request: Request,
    session: Session,
    actor: Kitchen,
    order_id: int,
    day: Annotated[str, Form()] = "",
) -> Response:
    on = _kitchen_day(day)
    try:
        await fulfilment_service.mark_delivered(session, actor=actor, order_id=order_id)
    except AppError as exc:
        return await _board_error(request, session, actor, on, exc)
    return _back(on, "delivered")


@router.post("/kitchen/orders/{order_id}/failed", response_class=HTMLResponse)
async def kitchen_failed(
    request: Request,
    session: Session,
    actor: Kitchen,
    order_id: int,
    day: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    on = _kitchen_day(day)
    try:
        try:
            why = FailureReason(reason)
        except ValueError as exc:
            raise InvalidInput(N_("Please choose why the meal was not delivered.")) from exc
        await fulfilment_service.mark_failed(
            session,
            actor=actor,
            order_id=order_id,
            reason=why,
            note=note.strip(),
            settings=request.app.state.settings,
        )
    except AppError as exc:
        return await _board_error(request, session, actor, on, exc)
    return _back(on, "failed")


@router.get("/kitchen/packing", response_class=HTMLResponse)
async def kitchen_packing(
    request: Request, session: Session, actor: Kitchen, day: str = ""
) -> Response:
    board = await kitchen_service.kitchen_board(session, actor=actor, day=_kitchen_day(day))
    return render(
        request,
        "orders/kitchen_packing.html",
        {
            **KITCHEN_LABELS,
            "board": board,
            "groups": kitchen_service.packing_groups(board),
            "paused": await pauses.paused_customers(session, actor=actor, day=board.day),
        },
    )


@router.get("/kitchen/route", response_class=HTMLResponse)
async def kitchen_route(
    request: Request, session: Session, actor: Kitchen, day: str = ""
) -> Response:
    board = await kitchen_service.kitchen_board(session, actor=actor, day=_kitchen_day(day))
    return render(
        request,
        "orders/kitchen_route.html",
        {
            **KITCHEN_LABELS,
            "board": board,
            "groups": kitchen_service.route_groups(board),
            "paused": await pauses.paused_customers(session, actor=actor, day=board.day),
        },
    )


# --- the driver's page -------------------------------------------------------------
# For a phone in one hand: big buttons, no tables. Works without JavaScript
# (each tap is a form); /static/driver.js keeps taps while the phone is offline.

OUTCOME_WORDS = {
    driver.StopOutcome.DELIVERED: N_("Stop {number}: delivered."),
    driver.StopOutcome.NOT_AT_HOME: N_(
        "Stop {number}: not at home. The municipality is alerted at once."
    ),
    driver.StopOutcome.REFUSED: N_("Stop {number}: refused."),
}


async def _driver_page(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    notice: str | None = None,
    error: AppError | None = None,
) -> Response:
    today = datetime.now(COPENHAGEN).date()
    route = await driver.route(session, actor=actor, day=today)
    return render(
        request,
        "orders/driver.html",
        {
            **KITCHEN_LABELS,
            "route": route,
            "observations": OBSERVATION_LABELS,
            "key": secrets.token_urlsafe(12),
            "notice": notice,
            "error": error.sentence() if error else None,
        },
        status_code=error.status_code if error else 200,
    )


@router.get("/driver", response_class=HTMLResponse)
async def driver_route(request: Request, session: Session, actor: Kitchen) -> Response:
    """Today's route in stop order, one big button per outcome."""
    done = request.query_params.get("done", "")
    notice = None
    if done:
        outcome, _, number = done.partition(":")
        if outcome in OUTCOME_WORDS and number.isdigit():
            notice = gettext(OUTCOME_WORDS[driver.StopOutcome(outcome)]).format(number=number)
    return await _driver_page(request, session, actor, notice=notice)


@router.post("/driver/stops/{order_id}", response_class=HTMLResponse)
async def driver_tap(
    request: Request,
    session: Session,
    actor: Kitchen,
    order_id: int,
    outcome: Annotated[str, Form()] = "",
    idempotency_key: Annotated[str, Form()] = "",
    stop: Annotated[int, Form()] = 0,
    observations: Annotated[list[str] | None, Form()] = None,
    text: Annotated[str, Form()] = "",
) -> Response:
    """One tap. The page's script asks for JSON (so it can keep a tap it could
    not send); a plain form post gets the route again."""
    wants_json = "application/json" in request.headers.get("accept", "")
    try:
        result = await driver.record_stop(
            session,
            actor=actor,
            order_id=order_id,
            outcome=outcome,
            idempotency_key=idempotency_key,
            observations=observations or [],
            text=text,
            settings=request.app.state.settings,
        )
    except AppError as exc:
        if wants_json:
            return JSONResponse({"ok": False, "error": exc.sentence()}, status_code=exc.status_code)
        return await _driver_page(request, session, actor, error=exc)
    if wants_json:
        return JSONResponse(
            {
                "ok": True,
                "order_id": order_id,
                "outcome": result.outcome.value,
                "replayed": result.replayed,
                "message": gettext(OUTCOME_WORDS[result.outcome]).format(number=stop),
            }
        )
    return RedirectResponse(
        f"/driver?done={result.outcome.value}:{stop}#stop-{stop + 1}", status_code=303
    )
