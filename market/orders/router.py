"""JSON API of the order flow under /api/v1. Sections: ordering (citizens,
proxies, case workers); kitchen systems (provider API tokens); welfare alerts."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response, status
from starlette.requests import Request

from market.auth.dependencies import Session, require
from market.auth.permissions import Actor, Permission
from market.orders import schemas as kitchen_api  # kitchen systems and welfare alerts
from market.orders import service
from market.orders.models import Order, StandingOrder
from market.orders.schemas import (
    CatalogueEntryOut,
    CatalogueOut,
    OrderIn,
    OrderOut,
    RatingIn,
    RatingOut,
    StandingOrderChange,
    StandingOrderIn,
    StandingOrderOut,
)
from market.payments.schemas import CardPaymentOut, PaymentMethodIn, PaymentMethodOut

router = APIRouter(prefix="/api/v1", tags=["orders"])

# --- ordering ----------------------------------------------------------------------

Orderer = Annotated[Actor, Depends(require(Permission.ORDER_PLACE))]


def _order_out(order: Order) -> OrderOut:
    assert order.id is not None
    return OrderOut(
        id=order.id,
        citizen_id=order.citizen_id,
        offer_id=order.offer_id,
        provider_id=order.provider_id,
        delivery_on=order.delivery_on,
        status=order.status.value,
        status_note=order.status_note,
        units=order.units,
        unit_price_ore=order.unit_price_ore,
        copayment_ore=order.copayment_ore,
        municipality_pays_ore=order.unit_price_ore - order.copayment_ore,
        cutoff_at=order.cutoff_at,
        window_end_at=order.window_end_at,
        standing_order_id=order.standing_order_id,
        placed_by_user_id=order.placed_by_user_id,
        on_behalf_of_user_id=order.on_behalf_of_user_id,
        placed_at=order.placed_at,
    )


def _standing_out(standing: StandingOrder) -> StandingOrderOut:
    assert standing.id is not None
    return StandingOrderOut(
        id=standing.id,
        citizen_id=standing.citizen_id,
        offer_id=standing.offer_id,
        weekdays=[int(d) for d in standing.weekdays.split(",") if d],
        active=standing.active,
        created_by_user_id=standing.created_by_user_id,
        placed_through_on=standing.placed_through_on,
        last_problem=standing.last_problem,
        last_problem_at=standing.last_problem_at,
    )


@router.get("/catalogue", response_model=CatalogueOut)
async def catalogue(
    session: Session,
    actor: Orderer,
    day: Annotated[date, Query(description="The delivery day, YYYY-MM-DD.")],
    citizen_id: int | None = None,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=100,
            description="At most this many providers (with all their meals), ranked as on "
            "the citizen's page: recent providers, then the nearest, then by name. "
            "Without it: every meal, by provider and meal name.",
        ),
    ] = None,
    offset: Annotated[int, Query(ge=0, description="Providers to skip (with limit).")] = 0,
) -> CatalogueOut:
    """The meals the citizen may order for the day, with the price split."""
    if limit is None:
        everything = await service.catalogue(
            session, actor=actor, citizen_id=citizen_id, delivery_on=day
        )
        citizen, grant, entries = everything.citizen, everything.grant, everything.entries
        total = len({e.provider.id for e in entries})
    else:
        page = await service.catalogue_page(
            session,
            actor=actor,
            citizen_id=citizen_id,
            delivery_on=day,
            per_page=limit,
            offset=offset,
        )
        citizen, grant, entries = page.citizen, page.grant, page.entries
        total = page.total_providers
    assert citizen.id is not None
    return CatalogueOut(
        total_providers=total,
        citizen_id=citizen.id,
        delivery_on=day,
        has_voucher=grant is not None,
        entries=[
            CatalogueEntryOut(
                offer_id=e.offer.id or 0,
                name=e.offer.name,
                description=e.offer.description,
                diet_forms=list(e.offer.diet_forms),
                allergens=list(e.offer.allergens),
                provider_id=e.provider.id or 0,
                provider_name=e.provider.name,
                unit_price_ore=e.unit_price_ore,
                municipality_pays_ore=e.municipality_pays_ore,
                copayment_ore=e.copayment_ore,
                cutoff_at=e.cutoff_at,
                photo_url=f"/offers/{e.offer.id}/photo?thumbnail=1"
                if e.offer.thumbnail_storage_name
                else None,
            )
            for e in entries
        ],
    )


@router.post(
    "/orders",
    response_model=OrderOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": OrderOut, "description": "The key was used before: that order."}},
)
async def place_order(
    session: Session,
    actor: Orderer,
    body: OrderIn,
    response: Response,
    idempotency_key: Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            # Checked by the service's one rule (1 to 200 characters), with a sentence.
            description=(
                "Required, 1 to 200 characters, yours alone. The same key with the same "
                "order returns that order and reserves nothing twice; with another order, 422."
            ),
        ),
    ],
) -> OrderOut:
    """Places an order (201). Sending the same Idempotency-Key again returns the
    first order with 200."""
    order, placed = await service.place_order_once(
        session,
        actor=actor,
        citizen_id=body.citizen_id,
        offer_id=body.offer_id,
        delivery_on=body.delivery_on,
        idempotency_key=idempotency_key,
    )
    if not placed:
        response.status_code = status.HTTP_200_OK
    return _order_out(order)


@router.get("/orders", response_model=list[OrderOut])
async def my_orders(
    session: Session, actor: Orderer, citizen_id: int | None = None
) -> list[OrderOut]:
    """The citizen's orders: upcoming first (soonest first), then earlier ones."""
    view = await service.my_orders(session, actor=actor, citizen_id=citizen_id)
    return [_order_out(line.order) for line in [*view.upcoming, *view.past]]


@router.get("/orders/{order_id}", response_model=OrderOut)
async def get_order(session: Session, actor: Orderer, order_id: int) -> OrderOut:
    line = await service.order_details(session, actor=actor, order_id=order_id)
    return _order_out(line.order)


@router.post("/orders/{order_id}/cancel", response_model=OrderOut)
async def cancel_order(session: Session, actor: Orderer, order_id: int) -> OrderOut:
    """Before the cut-off: cancelled, units back. After it: late_cancelled, the
    co-payment is owed."""
    return _order_out(await service.cancel_order(session, actor=actor, order_id=order_id))


@router.post(
    "/orders/{order_id}/rating", response_model=RatingOut, status_code=status.HTTP_201_CREATED
)
async def rate_order(session: Session, actor: Orderer, order_id: int, body: RatingIn) -> RatingOut:
    rating = await service.rate_order(
        session, actor=actor, order_id=order_id, stars=body.stars, comment=body.comment
    )
    return RatingOut(
        order_id=rating.order_id,
        stars=rating.stars,
        comment=rating.comment,
        created_at=rating.created_at,
    )


@router.get("/standing-orders", response_model=list[StandingOrderOut])
async def list_standing_orders(
    session: Session, actor: Orderer, citizen_id: int | None = None
) -> list[StandingOrderOut]:
    lines = await service.standing_orders(session, actor=actor, citizen_id=citizen_id)
    return [_standing_out(line.standing) for line in lines]


@router.post(
    "/standing-orders", response_model=StandingOrderOut, status_code=status.HTTP_201_CREATED
)
async def create_standing_order(
    session: Session, actor: Orderer, body: StandingOrderIn
) -> StandingOrderOut:
    """Every week on these weekdays, this meal; orders are placed a week ahead."""
    standing = await service.create_standing_order(
        session,
        actor=actor,
        citizen_id=body.citizen_id,
        offer_id=body.offer_id,
        weekdays=body.weekdays,
    )
    return _standing_out(standing)


@router.patch("/standing-orders/{standing_id}", response_model=StandingOrderOut)
async def change_standing_order(
    session: Session, actor: Orderer, standing_id: int, body: StandingOrderChange
) -> StandingOrderOut:
    standing = await service.change_standing_order(
        session, actor=actor, standing_id=standing_id, active=body.active, weekdays=body.weekdays
    )
    return _standing_out(standing)


@router.delete("/standing-orders/{standing_id}", response_model=StandingOrderOut)
async def stop_standing_order(
    session: Session, actor: Orderer, standing_id: int
) -> StandingOrderOut:
    """Stops it (kept for the record; orders already placed stay)."""
    standing = await service.change_standing_order(
        session, actor=actor, standing_id=standing_id, active=False
    )
    return _standing_out(standing)


# --- kitchen systems ---------------------------------------------------------------

KitchenSystem = Annotated[Actor, Depends(require(Permission.ORDER_FULFIL))]


def _kitchen_line_out(line: service.KitchenLine) -> kitchen_api.KitchenOrderOut:
    order, citizen = line.order, line.citizen
    assert order.id is not None
    return kitchen_api.KitchenOrderOut(
        id=order.id,
        status=order.status.value,
        delivery_on=order.delivery_on,
        offer_id=order.offer_id,
        offer_name=line.offer_name,
        units=order.units,
        citizen_name=citizen.full_name,
        address=citizen.address,
        postal_code=citizen.postal_code,
        phone=citizen.phone,
        diet_form=line.diet_form,
        allergies=line.allergies,
        accept_by_at=order.accept_by_at,
        window_end_at=order.window_end_at,
        failure_reason=order.failure_reason.value if order.failure_reason else None,
        status_note=order.status_note,
    )


def _move_out(order: Order) -> kitchen_api.KitchenMoveOut:
    assert order.id is not None
    return kitchen_api.KitchenMoveOut(
        id=order.id,
        status=order.status.value,
        status_note=order.status_note,
        failure_reason=order.failure_reason.value if order.failure_reason else None,
    )


@router.get("/kitchen/orders", response_model=list[kitchen_api.KitchenOrderOut])
async def kitchen_orders(
    session: Session,
    actor: KitchenSystem,
    day: date | None = None,
    status: Annotated[str | None, Query(description="e.g. placed or accepted")] = None,
) -> list[kitchen_api.KitchenOrderOut]:
    lines = await service.kitchen_orders(
        session, actor=actor, day=day, status=service.parse_order_status(status)
    )
    return [_kitchen_line_out(line) for line in lines]


@router.post("/kitchen/orders/accept", response_model=list[kitchen_api.KitchenMoveOut])
async def kitchen_accept_many(
    session: Session, actor: KitchenSystem, body: kitchen_api.OrderIdsIn
) -> list[kitchen_api.KitchenMoveOut]:
    orders = await service.accept_orders(session, actor=actor, order_ids=body.order_ids)
    return [_move_out(order) for order in orders]


@router.post("/kitchen/orders/{order_id}/accept", response_model=kitchen_api.KitchenMoveOut)
async def kitchen_accept(
    session: Session, actor: KitchenSystem, order_id: int
) -> kitchen_api.KitchenMoveOut:
    [order] = await service.accept_orders(session, actor=actor, order_ids=[order_id])
    return _move_out(order)


@router.post("/kitchen/orders/{order_id}/reject", response_model=kitchen_api.KitchenMoveOut)
async def kitchen_reject(
    session: Session, actor: KitchenSystem, order_id: int, body: kitchen_api.RejectIn
) -> kitchen_api.KitchenMoveOut:
    order = await service.reject_order(session, actor=actor, order_id=order_id, reason=body.reason)
    return _move_out(order)


@router.post(
    "/kitchen/orders/{order_id}/out-for-delivery", response_model=kitchen_api.KitchenMoveOut
)
async def kitchen_out_for_delivery(
    session: Session, actor: KitchenSystem, order_id: int
) -> kitchen_api.KitchenMoveOut:
    [order] = await service.mark_out_for_delivery(session, actor=actor, order_ids=[order_id])
    return _move_out(order)


@router.post("/kitchen/orders/{order_id}/delivered", response_model=kitchen_api.KitchenMoveOut)
async def kitchen_delivered(
    session: Session, actor: KitchenSystem, order_id: int
) -> kitchen_api.KitchenMoveOut:
    return _move_out(await service.mark_delivered(session, actor=actor, order_id=order_id))


@router.post("/kitchen/orders/{order_id}/failed", response_model=kitchen_api.KitchenMoveOut)
async def kitchen_failed(
    request: Request,
    session: Session,
    actor: KitchenSystem,
    order_id: int,
    body: kitchen_api.FailedIn,
) -> kitchen_api.KitchenMoveOut:
    order = await service.mark_failed(
        session,
        actor=actor,
        order_id=order_id,
        reason=service.parse_failure_reason(body.reason),
        note=body.note.strip(),
        settings=request.app.state.settings,
    )
    return _move_out(order)


# --- welfare alerts ----------------------------------------------------------------

AlertStaff = Annotated[Actor, Depends(require(Permission.ALERT_HANDLE))]


def _alert_out(entry: service.AlertEntry) -> kitchen_api.AlertOut:
    alert, citizen = entry.alert, entry.citizen
    assert alert.id is not None
    return kitchen_api.AlertOut(
        id=alert.id,
        status=alert.status.value,
        order_id=alert.order_id,
        delivery_on=entry.order.delivery_on if entry.order else None,
        citizen_id=alert.citizen_id,
        citizen_name=citizen.full_name,
        address=citizen.address,
        postal_code=citizen.postal_code,
        phone=citizen.phone,
        contact_name=citizen.contact_name,
        contact_phone=citizen.contact_phone,
        provider_note=alert.provider_note,
        raised_at=alert.raised_at,
        overdue=entry.overdue,
        acknowledged_at=alert.acknowledged_at,
        acknowledgement_note=alert.acknowledgement_note,
    )


@router.get("/alerts", response_model=kitchen_api.AlertQueueOut)
async def alert_queue(
    request: Request, session: Session, actor: AlertStaff
) -> kitchen_api.AlertQueueOut:
    queue = await service.alert_queue(session, actor=actor, settings=request.app.state.settings)
    return kitchen_api.AlertQueueOut(
        open=[_alert_out(entry) for entry in queue.open],
        acknowledged=[_alert_out(entry) for entry in queue.history],
        overdue_minutes=queue.overdue_minutes,
    )


@router.post("/alerts/{alert_id}/acknowledge", response_model=kitchen_api.AlertOut)
async def alert_acknowledge(
    request: Request,
    session: Session,
    actor: AlertStaff,
    alert_id: int,
    body: kitchen_api.AcknowledgeIn,
) -> kitchen_api.AlertOut:
    entry = await service.acknowledge_alert_entry(
        session, actor=actor, alert_id=alert_id, note=body.note
    )
    return _alert_out(entry)


# --- how the citizen pays the co-payment --------------------------------------------

PaymentChooser = Annotated[Actor, Depends(require(Permission.PAYMENT_METHOD_MANAGE))]


def _payment_out(view: service.CopaymentMethodView) -> PaymentMethodOut:
    assert view.citizen.id is not None
    return PaymentMethodOut(
        citizen_id=view.citizen.id,
        method=view.choice.method.value,
        card_label=view.choice.card_label,
        card_payments=[
            CardPaymentOut(
                order_id=p.order_id,
                amount_ore=p.amount_ore,
                status=p.status.value,
                idempotency_key=p.idempotency_key,
            )
            for p in view.card_payments
        ],
    )


@router.get("/citizens/{citizen_id}/payment-method", response_model=PaymentMethodOut)
async def get_payment_method(
    request: Request, session: Session, actor: PaymentChooser, citizen_id: int
) -> PaymentMethodOut:
    view = await service.copayment_method(
        session, actor=actor, citizen_id=citizen_id, settings=request.app.state.settings
    )
    return _payment_out(view)


@router.put("/citizens/{citizen_id}/payment-method", response_model=PaymentMethodOut)
async def put_payment_method(
    request: Request,
    session: Session,
    actor: PaymentChooser,
    citizen_id: int,
    body: PaymentMethodIn,
) -> PaymentMethodOut:
    """Monthly statement or card. With Stripe, ``payment_method_id`` is a
    PaymentMethod made by Stripe.js or the service desk; it is attached to the
    citizen's Stripe Customer (made on first use)."""
    view = await service.choose_copayment_method(
        session,
        actor=actor,
        citizen_id=citizen_id,
        method=body.method,
        settings=request.app.state.settings,
        payment_method_id=body.payment_method_id,
    )
    return _payment_out(view)
