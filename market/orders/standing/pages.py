"""Standing orders from the order page: set up, stop and resume."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from market.auth.dependencies import Session
from market.auth.models import Role
from market.errors import N_, AppError, InvalidInput
from market.orders.citizen.pages import Orderer, _base, _order_page
from market.orders.standing import service as standing_service

router = APIRouter(include_in_schema=False)


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
        standing = await standing_service.create_standing_order(
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
    standing = await standing_service.change_standing_order(
        session, actor=actor, standing_id=standing_id, active=action == "resume"
    )
    return RedirectResponse(f"{_base(actor, standing.citizen_id)}/orders", status_code=303)
