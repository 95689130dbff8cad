"""HTML pages of the order flow. Sections: citizens, proxies and case workers;
the provider's kitchen; welfare alerts."""

import secrets
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from babel.dates import format_date
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.dependencies import Session, require
from market.auth.models import Role
from market.auth.permissions import Actor, Permission
from market.dietary import ALLERGEN_LABELS, DIET_FORM_LABELS
from market.errors import N_, AppError, InvalidInput
from market.i18n import current_language, gettext
from market.orders import driver, pauses, service
from market.orders.models import FailureReason, OrderStatus, PauseReason
from market.payments.exceptions import PaymentGatewayDown
from market.templating import render

router = APIRouter(include_in_schema=False)

# --- citizens, proxies and case workers ---------------------------------------
# A citizen orders at /order, /orders; a proxy or a case worker (by phone) at
# /citizens/{id}/order, /citizens/{id}/orders, with the same templates.

Orderer = Annotated[Actor, Depends(require(Permission.ORDER_PLACE))]

CITIZEN_STATUS_LABELS = {
    OrderStatus.PLACED: N_("Ordered, waiting for the kitchen to confirm"),
    OrderStatus.ACCEPTED: N_("Confirmed by the kitchen"),
    OrderStatus.REJECTED: N_("Rejected by the kitchen"),
    OrderStatus.EXPIRED: N_("Not confirmed in time; you do not pay"),
    OrderStatus.CANCELLED: N_("Cancelled"),
    OrderStatus.LATE_CANCELLED: N_("Cancelled after the cut-off; you pay"),
    OrderStatus.OUT_FOR_DELIVERY: N_("On its way"),
    OrderStatus.DELIVERED: N_("Delivered"),
    OrderStatus.FAILED: N_("Not delivered"),
}
WEEKDAY_NAMES = {
    1: N_("Monday"),
    2: N_("Tuesday"),
    3: N_("Wednesday"),
    4: N_("Thursday"),
    5: N_("Friday"),
    6: N_("Saturday"),
    7: N_("Sunday"),
}


def _danish() -> bool:
    return current_language.get() == "da"


def day_words(day: date) -> str:
    """E.g. 'fredag 27. november' / 'Friday 27 November'."""
    if _danish():
        return format_date(day, "EEEE d. MMMM", locale="da_DK")
    return format_date(day, "EEEE d MMMM", locale="en_GB")


def time_words(instant: datetime) -> str:
    return instant.astimezone(service.COPENHAGEN).strftime("%H:%M")


def when_words(instant: datetime) -> str:
    local = instant.astimezone(service.COPENHAGEN)
    return gettext("{day} at {time}").format(day=day_words(local.date()), time=time_words(local))


def _base(actor: Actor, citizen_id: int | None) -> str:
    """Where this actor's ordering pages for the citizen live."""
    if actor.role == Role.CITIZEN or citizen_id is None:
        return ""
    return f"/citizens/{citizen_id}"


def _citizen_context(actor: Actor, citizen_id: int | None, **extra: Any) -> dict[str, Any]:
    base = _base(actor, citizen_id)
    return {
        "base": base,
        "day_words": day_words,
        "when_words": when_words,
        "time_words": time_words,
        "statuses": CITIZEN_STATUS_LABELS,
        "weekday_names": list(WEEKDAY_NAMES.items()),
        "weekday_names_map": WEEKDAY_NAMES,
        "list_url": f"{base}/orders",
        "start_url": f"{base}/order",
        **extra,
    }


async def _help(session: Session, citizen: Any) -> service.HelpLine | None:
    if citizen is None:
        return None
    return await service.help_line(session, municipality_id=citizen.municipality_id)


async def _start(
    request: Request, session: Session, actor: Actor, citizen_id: int | None
) -> Response:
    view = await service.ordering_start(session, actor=actor, citizen_id=citizen_id)
    cid = view.citizen.id if view.citizen else None
    return render(
        request,
        "orders/citizen_start.html",
        _citizen_context(actor, cid, view=view, help_line=await _help(session, view.citizen)),
    )


@router.get("/order", response_class=HTMLResponse)
async def order_start(request: Request, session: Session, actor: Orderer) -> Response:
    """Step 1: choose the day."""
    return await _start(request, session, actor, None)


@router.get("/citizens/{citizen_id}/order", response_class=HTMLResponse)
async def order_start_for(
    request: Request, session: Session, actor: Orderer, citizen_id: int
) -> Response:
    return await _start(request, session, actor, citizen_id)


async def _catalogue(
    request: Request,
    session: Session,
    actor: Actor,
    citizen_id: int | None,
    day: date,
    *,
    key: str | None = None,
    error: AppError | None = None,
) -> Response:
    catalogue = await service.catalogue(
        session, actor=actor, citizen_id=citizen_id, delivery_on=day
    )
    context = _citizen_context(
        actor,
        catalogue.citizen.id,
        catalogue=catalogue,
        idempotency_key=key or secrets.token_urlsafe(18),
        diets=DIET_FORM_LABELS,
        allergens=ALLERGEN_LABELS,
        error=error.sentence() if error else None,
        help_line=await _help(session, catalogue.citizen),
    )
    return render(
        request,
        "orders/citizen_catalogue.html",
        context,
        status_code=error.status_code if error else 200,
    )


def _path_day(text: str) -> date:
    """A day in the address, e.g. /order/2026-12-24; anything else gets a sentence
    (not the framework's English validation message)."""
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(
            N_("{value} is not a date. Write it as 2026-12-24."), value=text[:40]
        ) from exc


@router.get("/order/{day}", response_class=HTMLResponse)
async def order_day(request: Request, session: Session, actor: Orderer, day: str) -> Response:
    """Step 2: the meals of that day, each with its price split and an Order button."""
    return await _catalogue(request, session, actor, None, _path_day(day))


@router.get("/citizens/{citizen_id}/order/{day}", response_class=HTMLResponse)
async def order_day_for(
    request: Request, session: Session, actor: Orderer, citizen_id: int, day: str
) -> Response:
    return await _catalogue(request, session, actor, citizen_id, _path_day(day))


async def _place(
    request: Request,
    session: Session,
    actor: Actor,
    citizen_id: int | None,
    day: date,
    offer_id: int,
    idempotency_key: str,
) -> Response:
    try:
        order, _ = await service.place_order_once(
            session,
            actor=actor,
            citizen_id=citizen_id,
            offer_id=offer_id,
            delivery_on=day,
            idempotency_key=idempotency_key,
        )
    except AppError as exc:
        # Nothing was stored (the request rolls back); the page says why.
        return await _catalogue(
            request, session, actor, citizen_id, day, key=idempotency_key, error=exc
        )
    return RedirectResponse(f"/orders/{order.id}?placed=1", status_code=303)


@router.post("/order/{day}", response_class=HTMLResponse)
async def place_order(
    request: Request,
    session: Session,
    actor: Orderer,
    day: str,
    offer_id: Annotated[int, Form()],
    idempotency_key: Annotated[str, Form()] = "",
) -> Response:
    """Step 3: the order is placed and the confirmation shown (303 to /orders/{id})."""
    return await _place(request, session, actor, None, _path_day(day), offer_id, idempotency_key)


@router.post("/citizens/{citizen_id}/order/{day}", response_class=HTMLResponse)
async def place_order_for(
    request: Request,
    session: Session,
    actor: Orderer,
    citizen_id: int,
    day: str,
    offer_id: Annotated[int, Form()],
    idempotency_key: Annotated[str, Form()] = "",
) -> Response:
    return await _place(
        request, session, actor, citizen_id, _path_day(day), offer_id, idempotency_key
    )


# Sections other packages add to "my orders" (e.g. market.community's visits and
# seats), registered by market.app so that orders import none of them: each is
# called with the citizen the page has checked and returns (template, section).
MY_ORDERS_SECTIONS: dict[
    str, Callable[[AsyncSession, Actor, int], Awaitable[tuple[str, dict[str, Any]]]]
] = {}


async def _orders(
    request: Request, session: Session, actor: Actor, citizen_id: int | None
) -> Response:
    view = await service.my_orders(session, actor=actor, citizen_id=citizen_id)
    cid = view.citizen.id if view.citizen else None
    extra = [await add(session, actor, cid) for add in MY_ORDERS_SECTIONS.values()] if cid else []
    earlier = request.query_params.get("earlier") == "1"
    today = datetime.now(service.COPENHAGEN).date()
    return render(
        request,
        "orders/citizen_orders.html",
        _citizen_context(
            actor,
            cid,
            view=view,
            earlier=earlier,
            week_start=today - timedelta(days=today.weekday()),
            help_line=await _help(session, view.citizen),
            extra_sections=extra,
        ),
    )


@router.get("/orders", response_class=HTMLResponse)
async def my_orders(request: Request, session: Session, actor: Orderer) -> Response:
    return await _orders(request, session, actor, None)


@router.get("/citizens/{citizen_id}/orders", response_class=HTMLResponse)
async def orders_of_citizen(
    request: Request, session: Session, actor: Orderer, citizen_id: int
) -> Response:
    return await _orders(request, session, actor, citizen_id)


async def _order_page(
    request: Request,
    session: Session,
    actor: Actor,
    order_id: int,
    *,
    placed: bool = False,
    cancelled: bool = False,
    error: AppError | None = None,
    form_days: list[str] | None = None,
    form_weekdays: list[str] | None = None,
) -> Response:
    line = await service.order_details(session, actor=actor, order_id=order_id)
    day = line.order.delivery_on
    offered = line.offer.weekdays.split(",") if line.offer else []
    repeat_days = [
        day + timedelta(days=n)
        for n in range(1, service.ORDER_DAYS_AHEAD + 1)
        if str((day + timedelta(days=n)).isoweekday()) in offered
    ]
    context = _citizen_context(
        actor,
        line.order.citizen_id,
        line=line,
        just_placed=placed,
        cancelled_now=cancelled,
        repeat_days=repeat_days,
        idempotency_key=secrets.token_urlsafe(18),
        citizen=None,
        error=error.sentence() if error else None,
        form_days=form_days or [],
        form_weekdays=form_weekdays or [],
        help_line=await service.help_for_citizen(session, citizen_id=line.order.citizen_id),
    )
    return render(
        request,
        "orders/citizen_order.html",
        context,
        status_code=error.status_code if error else 200,
    )


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def order_page(
    request: Request,
    session: Session,
    actor: Orderer,
    order_id: int,
    placed: Annotated[int, Query()] = 0,
    cancelled: Annotated[int, Query()] = 0,
) -> Response:
    """The confirmation: what, which day, the window, what you pay, how to cancel."""
    return await _order_page(
        request, session, actor, order_id, placed=bool(placed), cancelled=bool(cancelled)
    )


@router.get("/orders/{order_id}/cancel", response_class=HTMLResponse)
async def cancel_order_question(
    request: Request, session: Session, actor: Orderer, order_id: int
) -> Response:
    """Asks once, saying whether cancelling costs the co-payment."""
    line = await service.order_details(session, actor=actor, order_id=order_id)
    if not line.can_cancel:
        return RedirectResponse(f"/orders/{order_id}", status_code=303)
    return render(
        request,
        "orders/citizen_cancel.html",
        _citizen_context(
            actor,
            line.order.citizen_id,
            line=line,
            citizen=None,
            help_line=await service.help_for_citizen(session, citizen_id=line.order.citizen_id),
        ),
    )


@router.post("/orders/{order_id}/cancel", response_class=HTMLResponse)
async def cancel_order(
    request: Request, session: Session, actor: Orderer, order_id: int
) -> Response:
    """Then says what happened, on the order's own page."""
    try:
        await service.cancel_order(session, actor=actor, order_id=order_id)
    except AppError as exc:
        if exc.status_code == 404:
            raise
        return await _order_page(request, session, actor, order_id, error=exc)
    return RedirectResponse(f"/orders/{order_id}?cancelled=1#cancel-done", status_code=303)


@router.post("/orders/{order_id}/repeat", response_class=HTMLResponse)
async def repeat_order(
    request: Request,
    session: Session,
    actor: Orderer,
    order_id: int,
    days: Annotated[list[str] | None, Form()] = None,
    idempotency_key: Annotated[str, Form()] = "",
) -> Response:
    """The same meal on more days, in one tap."""
    try:
        chosen = [_path_day(d) for d in days or []]
        orders = await service.repeat_order(
            session, actor=actor, order_id=order_id, days=chosen, idempotency_key=idempotency_key
        )
    except AppError as exc:
        if exc.status_code == 404:
            raise
        # Nothing was stored (the request rolls back); the ticks stay as they were.
        return await _order_page(request, session, actor, order_id, error=exc, form_days=days)
    return RedirectResponse(f"{_base(actor, orders[0].citizen_id)}/orders", status_code=303)


@router.post("/orders/{order_id}/rating", response_class=HTMLResponse)
async def rate_order(
    request: Request,
    session: Session,
    actor: Orderer,
    order_id: int,
    stars: Annotated[int, Form()] = 0,
    comment: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/orders",
) -> Response:
    try:
        await service.rate_order(
            session, actor=actor, order_id=order_id, stars=stars, comment=comment
        )
    except AppError as exc:
        if exc.status_code == 404:
            raise
        return await _order_page(request, session, actor, order_id, error=exc)
    target = next if next.startswith("/") and not next.startswith("//") else "/orders"
    return RedirectResponse(target, status_code=303)


@router.post("/standing-orders", response_class=HTMLResponse)
async def create_standing_order(
    request: Request,
    session: Session,
    actor: Orderer,
    offer_id: Annotated[int, Form()],
    weekdays: Annotated[list[int] | None, Form()] = None,
    citizen_id: Annotated[int | None, Form()] = None,
    order_id: Annotated[int | None, Form()] = None,
) -> Response:
    """Every week on the chosen weekdays, this meal (placed ahead by itself)."""
    try:
        standing = await service.create_standing_order(
            session,
            actor=actor,
            citizen_id=None if actor.role == Role.CITIZEN else citizen_id,
            offer_id=offer_id,
            weekdays=weekdays or [],
        )
    except AppError as exc:
        if order_id is None or exc.status_code == 404:
            raise
        # Back to the order the form was on, with the sentence and the ticks.
        return await _order_page(
            request,
            session,
            actor,
            order_id,
            error=exc,
            form_weekdays=[str(d) for d in weekdays or []],
        )
    return RedirectResponse(f"{_base(actor, standing.citizen_id)}/orders", status_code=303)


@router.post("/standing-orders/{standing_id}/{action}", response_class=HTMLResponse)
async def stop_or_resume_standing_order(
    request: Request, session: Session, actor: Orderer, standing_id: int, action: str
) -> Response:
    if action not in ("stop", "resume"):
        raise InvalidInput(N_("That action is not possible here."))
    standing = await service.change_standing_order(
        session, actor=actor, standing_id=standing_id, active=action == "resume"
    )
    return RedirectResponse(f"{_base(actor, standing.citizen_id)}/orders", status_code=303)


# --- pauses: a hospital stay, a holiday ---------------------------------------------

PAUSE_REASONS = {
    PauseReason.HOSPITAL.value: N_("Hospital stay"),
    PauseReason.HOLIDAY.value: N_("Holiday"),
    PauseReason.FAMILY.value: N_("Staying with family"),
    PauseReason.OTHER.value: N_("Other reason"),
}


def _form_day(text: str, *, required: bool) -> date | None:
    value = text.strip()
    if not value:
        if required:
            raise InvalidInput(N_("Write the first day without meals."))
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(
            N_("{value} is not a date. Write it as 2026-12-24."), value=value
        ) from exc


async def _pause_page(
    request: Request,
    session: Session,
    actor: Actor,
    citizen_id: int | None,
    *,
    outcome: pauses.PauseOutcome | None = None,
    error: AppError | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    view = await pauses.pauses_of(session, actor=actor, citizen_id=citizen_id)
    context = _citizen_context(
        actor,
        view.citizen.id if actor.role != Role.CITIZEN else None,
        view=view,
        outcome=outcome,
        reasons=PAUSE_REASONS,
        form=form or {"reason": "", "starts_on": "", "resumes_on": ""},
        error=error.sentence() if error else None,
        help_line=await _help(session, view.citizen),
    )
    return render(
        request,
        "orders/citizen_pause.html",
        context,
        status_code=error.status_code if error else 200,
    )


async def _register_pause(
    request: Request, session: Session, actor: Actor, citizen_id: int | None
) -> Response:
    form = await request.form()
    values = {k: str(form.get(k, "")) for k in ("reason", "starts_on", "resumes_on")}
    try:
        starts_on = _form_day(values["starts_on"], required=True)
        assert starts_on is not None
        outcome = await pauses.register_pause(
            session,
            actor=actor,
            citizen_id=citizen_id,
            reason=values["reason"],
            starts_on=starts_on,
            resumes_on=_form_day(values["resumes_on"], required=False),
        )
    except AppError as exc:
        # Nothing was stored (the request rolls back); the form keeps what was typed.
        return await _pause_page(request, session, actor, citizen_id, error=exc, form=values)
    return await _pause_page(request, session, actor, citizen_id, outcome=outcome)


@router.get("/pause", response_class=HTMLResponse)
async def my_pause(request: Request, session: Session, actor: Orderer) -> Response:
    """Pause the meals: a hospital stay, a holiday, a stay with family."""
    return await _pause_page(request, session, actor, None)


@router.get("/citizens/{citizen_id}/pause", response_class=HTMLResponse)
async def pause_for(
    request: Request, session: Session, actor: Orderer, citizen_id: int
) -> Response:
    return await _pause_page(request, session, actor, citizen_id)


@router.post("/pause", response_class=HTMLResponse)
async def register_my_pause(request: Request, session: Session, actor: Orderer) -> Response:
    return await _register_pause(request, session, actor, None)


@router.post("/citizens/{citizen_id}/pause", response_class=HTMLResponse)
async def register_pause_for(
    request: Request, session: Session, actor: Orderer, citizen_id: int
) -> Response:
    return await _register_pause(request, session, actor, citizen_id)


@router.post("/pauses/{pause_id}/end", response_class=HTMLResponse)
async def change_pause_end(
    request: Request,
    session: Session,
    actor: Orderer,
    pause_id: int,
    resumes_on: Annotated[str, Form()] = "",
) -> Response:
    """Ends a pause early or later; an empty date means no end yet."""
    pause, _ = await pauses._pause_for_citizen_side(session, actor, pause_id)
    citizen_id = None if actor.role == Role.CITIZEN else pause.citizen_id
    try:
        outcome = await pauses.change_pause_end(
            session,
            actor=actor,
            pause_id=pause_id,
            resumes_on=_form_day(resumes_on, required=False),
        )
    except AppError as exc:
        return await _pause_page(request, session, actor, citizen_id, error=exc)
    return await _pause_page(request, session, actor, citizen_id, outcome=outcome)


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
        return datetime.now(service.COPENHAGEN).date()
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
    board = await service.kitchen_board(session, actor=actor, day=day)
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
    board = await service.kitchen_board(session, actor=actor, day=_kitchen_day(day))
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
    on = _kitchen_day(day)
    if not order_ids:
        return _back(on, "none")
    try:
        await service.accept_orders(session, actor=actor, order_ids=order_ids)
    except AppError as exc:
        return await _board_error(request, session, actor, on, exc)
    return _back(on, "accepted")


@router.post("/kitchen/out-for-delivery", response_class=HTMLResponse)
async def kitchen_out_for_delivery(
    request: Request,
    session: Session,
    actor: Kitchen,
    day: Annotated[str, Form()] = "",
    order_ids: Annotated[list[int], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
) -> Response:
    on = _kitchen_day(day)
    if not order_ids:
        return _back(on, "none")
    try:
        await service.mark_out_for_delivery(session, actor=actor, order_ids=order_ids)
    except AppError as exc:
        return await _board_error(request, session, actor, on, exc)
    return _back(on, "out")


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
        await service.reject_order(session, actor=actor, order_id=order_id, reason=reason)
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
        await service.mark_delivered(session, actor=actor, order_id=order_id)
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
        await service.mark_failed(
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
    board = await service.kitchen_board(session, actor=actor, day=_kitchen_day(day))
    return render(
        request,
        "orders/kitchen_packing.html",
        {
            **KITCHEN_LABELS,
            "board": board,
            "groups": service.packing_groups(board),
            "paused": await pauses.paused_customers(session, actor=actor, day=board.day),
        },
    )


@router.get("/kitchen/route", response_class=HTMLResponse)
async def kitchen_route(
    request: Request, session: Session, actor: Kitchen, day: str = ""
) -> Response:
    board = await service.kitchen_board(session, actor=actor, day=_kitchen_day(day))
    return render(
        request,
        "orders/kitchen_route.html",
        {
            **KITCHEN_LABELS,
            "board": board,
            "groups": service.route_groups(board),
            "paused": await pauses.paused_customers(session, actor=actor, day=board.day),
        },
    )


# --- welfare alerts --------------------------------------------------------------

AlertStaff = Annotated[Actor, Depends(require(Permission.ALERT_HANDLE))]


async def alert_badge(request: Request, session: Session) -> None:
    """An app-wide dependency (market.app): the number of open alerts for the
    menu badge, one COUNT for staff who handle alerts, nothing for anyone else."""
    from market.auth.dependencies import _identify as identify  # cached per request

    # Machine endpoints too: /metrics takes a bearer token that is not an API token.
    if request.url.path.startswith(
        ("/api/", "/static/", "/livez", "/readyz", "/healthz", "/metrics")
    ):
        return
    actor = await identify(request, session)
    if actor is not None and actor.can(Permission.ALERT_HANDLE):
        request.state.open_alert_count = await service.open_alert_count(session, actor=actor)


@router.get("/alerts", response_class=HTMLResponse)
async def alert_queue(request: Request, session: Session, actor: AlertStaff) -> Response:
    queue = await service.alert_queue(session, actor=actor, settings=request.app.state.settings)
    done = request.query_params.get("done")
    return render(
        request,
        "orders/alert_queue.html",
        {
            "queue": queue,
            "notes": await driver.open_notes(session, actor=actor),
            "observations": OBSERVATION_LABELS,
            "done": done == "acknowledged",
            "note_done": done == "note",
        },
    )


@router.post("/alerts/{alert_id}/acknowledge", response_class=HTMLResponse)
async def alert_acknowledge(
    request: Request,
    session: Session,
    actor: AlertStaff,
    alert_id: int,
    note: Annotated[str, Form()] = "",
) -> Response:
    try:
        await service.acknowledge_alert(session, actor=actor, alert_id=alert_id, note=note)
    except AppError as exc:
        queue = await service.alert_queue(session, actor=actor, settings=request.app.state.settings)
        return render(
            request,
            "orders/alert_queue.html",
            {
                "queue": queue,
                "notes": await driver.open_notes(session, actor=actor),
                "observations": OBSERVATION_LABELS,
                "error": exc.sentence(),
                "error_alert_id": alert_id,
                "note": note,
            },
            status_code=exc.status_code,
        )
    return RedirectResponse("/alerts?done=acknowledged", status_code=303)


@router.post("/welfare-notes/{note_id}/acknowledge", response_class=HTMLResponse)
async def welfare_note_acknowledge(
    request: Request,
    session: Session,
    actor: AlertStaff,
    note_id: int,
    note: Annotated[str, Form()] = "",
) -> Response:
    """A driver's note, followed up: acknowledged as an alert is."""
    try:
        await driver.acknowledge_note(session, actor=actor, note_id=note_id, reply=note)
    except AppError as exc:
        queue = await service.alert_queue(session, actor=actor, settings=request.app.state.settings)
        return render(
            request,
            "orders/alert_queue.html",
            {
                "queue": queue,
                "notes": await driver.open_notes(session, actor=actor),
                "observations": OBSERVATION_LABELS,
                "error": exc.sentence(),
            },
            status_code=exc.status_code,
        )
    return RedirectResponse("/alerts?done=note#notes", status_code=303)


# --- the driver's page -------------------------------------------------------------
# For a phone in one hand: big buttons, no tables. Works without JavaScript
# (each tap is a form); /static/driver.js keeps taps while the phone is offline.

OBSERVATION_LABELS = {
    "confused": N_("Seems confused"),
    "meal_untouched": N_("Yesterday's meal is untouched"),
    "fall": N_("Has fallen"),
}
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
    today = datetime.now(service.COPENHAGEN).date()
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


# --- how the citizen pays the co-payment -------------------------------------------
# The citizen at /payment; a proxy or the case worker at /citizens/{id}/payment.

PaymentChooser = Annotated[Actor, Depends(require(Permission.PAYMENT_METHOD_MANAGE))]

CARD_PAYMENT_LABELS = {
    "authorizing": N_("To be reserved on the card"),
    "authorized": N_("Reserved on the card"),
    "captured": N_("Paid by card"),
    "released": N_("Not charged"),
    "declined": N_("The card was declined: comes on the monthly statement"),
}


async def _payment_page(
    request: Request,
    session: Session,
    actor: Actor,
    citizen_id: int | None,
    *,
    notice: str | None = None,
    error: AppError | None = None,
) -> Response:
    view = await service.copayment_method(
        session, actor=actor, citizen_id=citizen_id, settings=request.app.state.settings
    )
    context = _citizen_context(
        actor,
        view.citizen.id,
        view=view,
        citizen=view.citizen,
        card_labels=CARD_PAYMENT_LABELS,
        notice=notice,
        error=error.sentence() if error else None,
    )
    context["payment_url"] = f"{context['base']}/payment"
    return render(
        request,
        "payments/method.html",
        context,
        status_code=error.status_code if error else 200,
    )


@router.get("/payment", response_class=HTMLResponse)
async def my_payment(
    request: Request, session: Session, actor: PaymentChooser, saved: bool = False
) -> Response:
    notice = gettext("Your choice is saved.") if saved else None
    return await _payment_page(request, session, actor, None, notice=notice)


@router.get("/citizens/{citizen_id}/payment", response_class=HTMLResponse)
async def payment_for(
    request: Request, session: Session, actor: PaymentChooser, citizen_id: int, saved: bool = False
) -> Response:
    notice = gettext("Your choice is saved.") if saved else None
    return await _payment_page(request, session, actor, citizen_id, notice=notice)


async def _choose(
    request: Request,
    session: Session,
    actor: Actor,
    citizen_id: int | None,
    method: str,
    payment_method_id: str,
) -> Response:
    try:
        view = await service.choose_copayment_method(
            session,
            actor=actor,
            citizen_id=citizen_id,
            method=method,
            settings=request.app.state.settings,
            payment_method_id=payment_method_id or None,
        )
    except (InvalidInput, PaymentGatewayDown) as exc:
        return await _payment_page(request, session, actor, citizen_id, error=exc)
    return RedirectResponse(f"{_base(actor, view.citizen.id)}/payment?saved=1", status_code=303)


@router.post("/payment", response_class=HTMLResponse)
async def choose_my_payment(
    request: Request,
    session: Session,
    actor: PaymentChooser,
    method: Annotated[str, Form()] = "",
    payment_method_id: Annotated[str, Form()] = "",
) -> Response:
    return await _choose(request, session, actor, None, method, payment_method_id)


@router.post("/citizens/{citizen_id}/payment", response_class=HTMLResponse)
async def choose_payment_for(
    request: Request,
    session: Session,
    actor: PaymentChooser,
    citizen_id: int,
    method: Annotated[str, Form()] = "",
    payment_method_id: Annotated[str, Form()] = "",
) -> Response:
    return await _choose(request, session, actor, citizen_id, method, payment_method_id)
