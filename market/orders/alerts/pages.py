"""Welfare alerts and welfare notes: the municipality's queue and the menu badge."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from market.auth.dependencies import Session, require
from market.auth.permissions import Actor, Permission
from market.errors import N_, AppError
from market.orders.alerts import service as alerts_service
from market.templating import render

router = APIRouter(include_in_schema=False)

OBSERVATION_LABELS = {
    "confused": N_("Seems confused"),
    "meal_untouched": N_("Yesterday's meal is untouched"),
    "fall": N_("Has fallen"),
}


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
        request.state.open_alert_count = await alerts_service.open_alert_count(session, actor=actor)


@router.get("/alerts", response_class=HTMLResponse)
async def alert_queue(request: Request, session: Session, actor: AlertStaff) -> Response:
    queue = await alerts_service.alert_queue(
        session, actor=actor, settings=request.app.state.settings
    )
    done = request.query_params.get("done")
    return render(
        request,
        "orders/alert_queue.html",
        {
            "queue": queue,
            "notes": await alerts_service.open_notes(session, actor=actor),
            "observations": OBSERVATION_LABELS,
            "done": done == "acknowledged",
            "note_done": done == "note",
        },
    )


async def _queue_with_error(
    request: Request, session: Session, actor: Actor, exc: AppError, **extra: Any
) -> Response:
    """The queue again, with the sentence saying why the acknowledgement failed."""
    queue = await alerts_service.alert_queue(
        session, actor=actor, settings=request.app.state.settings
    )
    return render(
        request,
        "orders/alert_queue.html",
        {
            "queue": queue,
            "notes": await alerts_service.open_notes(session, actor=actor),
            "observations": OBSERVATION_LABELS,
            "error": exc.sentence(),
            **extra,
        },
        status_code=exc.status_code,
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
        await alerts_service.acknowledge_alert(session, actor=actor, alert_id=alert_id, note=note)
    except AppError as exc:
        return await _queue_with_error(
            request, session, actor, exc, error_alert_id=alert_id, note=note
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
        await alerts_service.acknowledge_note(session, actor=actor, note_id=note_id, reply=note)
    except AppError as exc:
        return await _queue_with_error(request, session, actor, exc)
    return RedirectResponse("/alerts?done=note#notes", status_code=303)
