"""The citizen's pages (also proxies and case workers by phone): ordering, my
orders, one order, and how the co-payment is paid; and the helpers the other
citizen-facing pages of market.orders share."""

import secrets
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from functools import cache
from typing import Annotated, Any

from babel.dates import format_date
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.dependencies import Session, require
from market.auth.models import Role
from market.auth.permissions import Actor, Permission
from market.clock import COPENHAGEN
from market.dietary import ALLERGEN_LABELS, DIET_FORM_LABELS
from market.errors import N_, AppError, InvalidInput
from market.i18n import current_language, gettext
from market.orders.catalogue import service as catalogue_service
from market.orders.citizen import service as citizen_service
from market.orders.models import OrderStatus
from market.orders.moves import service as moves_service
from market.orders.placement import service as placement_service
from market.payments.exceptions import PaymentGatewayDown
from market.templating import kroner, render

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
    return instant.astimezone(COPENHAGEN).strftime("%H:%M")


def when_words(instant: datetime) -> str:
    local = instant.astimezone(COPENHAGEN)
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


async def _help(session: Session, citizen: Any) -> catalogue_service.HelpLine | None:
    if citizen is None:
        return None
    return await catalogue_service.help_line(session, municipality_id=citizen.municipality_id)


async def _start(
    request: Request, session: Session, actor: Actor, citizen_id: int | None
) -> Response:
    view = await citizen_service.ordering_start(session, actor=actor, citizen_id=citizen_id)
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


def _page_number(text: str | None) -> int:
    """The catalogue page from ?side=2; anything else is the first page."""
    try:
        return max(1, int(text or 1))
    except ValueError:
        return 1


async def _catalogue(
    request: Request,
    session: Session,
    actor: Actor,
    citizen_id: int | None,
    day: date,
    *,
    page: int = 1,
    key: str | None = None,
    error: AppError | None = None,
) -> Response:
    view = await catalogue_service.catalogue_page(
        session, actor=actor, citizen_id=citizen_id, delivery_on=day, page=page
    )
    # The words that are the same for every meal are translated once per page,
    # not once per meal, and amounts and cut-offs (mostly the same for every
    # provider) are formatted once each: template rendering, with Babel's
    # formatting, was most of the page's time.
    context = _citizen_context(
        actor,
        view.citizen.id,
        catalogue=view,
        money=cache(kroner),
        when_words=cache(when_words),
        idempotency_key=key or secrets.token_urlsafe(18),
        diet_words={k: gettext(v) for k, v in DIET_FORM_LABELS.items()},
        allergen_words={k: gettext(v) for k, v in ALLERGEN_LABELS.items()},
        error=error.sentence() if error else None,
        help_line=await _help(session, view.citizen),
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
    """Step 2: the meals of that day by provider, a few providers at a time (the
    citizen's recent ones and the nearest first; ?side=2 shows the next ones),
    each with its price split and an Order button."""
    page = _page_number(request.query_params.get("side"))
    return await _catalogue(request, session, actor, None, _path_day(day), page=page)


@router.get("/citizens/{citizen_id}/order/{day}", response_class=HTMLResponse)
async def order_day_for(
    request: Request, session: Session, actor: Orderer, citizen_id: int, day: str
) -> Response:
    page = _page_number(request.query_params.get("side"))
    return await _catalogue(request, session, actor, citizen_id, _path_day(day), page=page)


async def _place(
    request: Request,
    session: Session,
    actor: Actor,
    citizen_id: int | None,
    day: date,
    offer_id: int,
    idempotency_key: str,
    page: int = 1,
) -> Response:
    try:
        order, _ = await placement_service.place_order_once(
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
            request, session, actor, citizen_id, day, page=page, key=idempotency_key, error=exc
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
    side: Annotated[str, Form()] = "",
) -> Response:
    """Step 3: the order is placed and the confirmation shown (303 to /orders/{id})."""
    return await _place(
        request,
        session,
        actor,
        None,
        _path_day(day),
        offer_id,
        idempotency_key,
        _page_number(side),
    )


@router.post("/citizens/{citizen_id}/order/{day}", response_class=HTMLResponse)
async def place_order_for(
    request: Request,
    session: Session,
    actor: Orderer,
    citizen_id: int,
    day: str,
    offer_id: Annotated[int, Form()],
    idempotency_key: Annotated[str, Form()] = "",
    side: Annotated[str, Form()] = "",
) -> Response:
    return await _place(
        request,
        session,
        actor,
        citizen_id,
        _path_day(day),
        offer_id,
        idempotency_key,
        _page_number(side),
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
    view = await citizen_service.my_orders(session, actor=actor, citizen_id=citizen_id)
    cid = view.citizen.id if view.citizen else None
    extra = [await add(session, actor, cid) for add in MY_ORDERS_SECTIONS.values()] if cid else []
    earlier = request.query_params.get("earlier") == "1"
    today = datetime.now(COPENHAGEN).date()
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
    line = await citizen_service.order_details(session, actor=actor, order_id=order_id)
    day = line.order.delivery_on
    offered = line.offer.weekdays.split(",") if line.offer else []
    repeat_days = [
        day + timedelta(days=n)
        for n in range(1, moves_service.ORDER_DAYS_AHEAD + 1)
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
        help_line=await catalogue_service.help_for_citizen(
            session, citizen_id=line.order.citizen_id
        ),
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
    line = await citizen_service.order_details(session, actor=actor, order_id=order_id)
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
            help_line=await catalogue_service.help_for_citizen(
                session, citizen_id=line.order.citizen_id
            ),
        ),
    )


@router.post("/orders/{order_id}/cancel", response_class=HTMLResponse)
async def cancel_order(
    request: Request, session: Session, actor: Orderer, order_id: int
) -> Response:
    """Then says what happened, on the order's own page."""
    try:
        await placement_service.cancel_order(session, actor=actor, order_id=order_id)
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
        orders = await placement_service.repeat_order(
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
        await placement_service.rate_order(
            session, actor=actor, order_id=order_id, stars=stars, comment=comment
        )
    except AppError as exc:
        if exc.status_code == 404:
            raise
        return await _order_page(request, session, actor, order_id, error=exc)
    target = next if next.startswith("/") and not next.startswith("//") else "/orders"
    return RedirectResponse(target, status_code=303)


# --- how the citizen pays the co-payment -------------------------------------------
# The citizen at /payment; a proxy or the case worker at /citizens/{id}/payment.

payment_router = APIRouter(include_in_schema=False)

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
    view = await citizen_service.copayment_method(
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


@payment_router.get("/payment", response_class=HTMLResponse)
async def my_payment(
    request: Request, session: Session, actor: PaymentChooser, saved: bool = False
) -> Response:
    notice = gettext("Your choice is saved.") if saved else None
    return await _payment_page(request, session, actor, None, notice=notice)


@payment_router.get("/citizens/{citizen_id}/payment", response_class=HTMLResponse)
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
        view = await citizen_service.choose_copayment_method(
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


@payment_router.post("/payment", response_class=HTMLResponse)
async def choose_my_payment(
    request: Request,
    session: Session,
    actor: PaymentChooser,
    method: Annotated[str, Form()] = "",
    payment_method_id: Annotated[str, Form()] = "",
) -> Response:
    return await _choose(request, session, actor, None, method, payment_method_id)


@payment_router.post("/citizens/{citizen_id}/payment", response_class=HTMLResponse)
async def choose_payment_for(
    request: Request,
    session: Session,
    actor: PaymentChooser,
    citizen_id: int,
    method: Annotated[str, Form()] = "",
    payment_method_id: Annotated[str, Form()] = "",
) -> Response:
    return await _choose(request, session, actor, citizen_id, method, payment_method_id)
