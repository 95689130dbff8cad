"""Pauses (a hospital stay, a holiday): the citizen's, a proxy's or the case
worker's pages."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from market.auth.dependencies import Session
from market.auth.models import Role
from market.auth.permissions import Actor
from market.errors import N_, AppError, InvalidInput
from market.orders.citizen.pages import Orderer, _citizen_context, _help
from market.orders.fulfilment import pauses
from market.orders.models import PauseReason
from market.templating import render

router = APIRouter(include_in_schema=False)


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
