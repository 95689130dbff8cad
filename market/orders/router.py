"""JSON API of the order flow under /api/v1. Sections: ordering (citizens,
proxies, case workers); kitchen systems (provider API tokens); welfare alerts."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response, status

from market.auth.dependencies import Session, require
from market.auth.permissions import Actor, Permission
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
) -> CatalogueOut:
    """The meals the citizen may order for the day, with the price split."""
    found = await service.catalogue(session, actor=actor, citizen_id=citizen_id, delivery_on=day)
    assert found.citizen.id is not None
    return CatalogueOut(
        citizen_id=found.citizen.id,
        delivery_on=found.delivery_on,
        has_voucher=found.grant is not None,
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
            for e in found.entries
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
            min_length=1,
            max_length=200,
            description="Required. The same key returns the same order and reserves nothing twice.",
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


# --- welfare alerts ----------------------------------------------------------------
