"""HTML pages of co-production: an association registers; the municipality
approves it and reads the figures; the coordinator publishes activities, adds
volunteers and matches them; the citizen (or a relative, or the case worker)
asks for a meal companion and books seats; the volunteer sees their visits."""

from datetime import date, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.dependencies import Session, public, require
from market.auth.models import Role
from market.auth.pages import signed_in_redirect
from market.auth.permissions import Actor, Permission
from market.community import service
from market.community.models import ActivityKind, PartnerStatus, RequestStatus
from market.config import Settings
from market.dietary import ALLERGEN_LABELS
from market.errors import N_, AppError, InvalidInput
from market.templating import render

router = APIRouter(include_in_schema=False)
P = Permission
Anyone = Annotated[Actor | None, Depends(public)]
Reviewer = Annotated[Actor, Depends(require(P.COMMUNITY_PARTNER_REVIEW))]
FigureViewer = Annotated[Actor, Depends(require(P.COMMUNITY_FIGURES_VIEW))]
Reporter = Annotated[Actor, Depends(require(P.COMMUNITY_REPORT))]
Coordinator = Annotated[Actor, Depends(require(P.COMMUNITY_COORDINATE))]
TakingPart = Annotated[Actor, Depends(require(P.COMMUNITY_TAKE_PART))]
Volunteer = Annotated[Actor, Depends(require(P.COMMUNITY_VISIT))]

PARTNER_STATUS = {
    PartnerStatus.APPLIED: N_("Waiting for the municipality"),
    PartnerStatus.APPROVED: N_("Approved"),
    PartnerStatus.SUSPENDED: N_("Suspended"),
    PartnerStatus.REJECTED: N_("Rejected"),
}
REQUEST_STATUS = {
    RequestStatus.ASKED: N_("Asked; the association is finding a volunteer"),
    RequestStatus.PROPOSED: N_("A volunteer is proposed; please answer"),
    RequestStatus.MATCHED: N_("Matched"),
    RequestStatus.DECLINED: N_("Declined"),
    RequestStatus.ENDED: N_("Ended"),
}
KIND_LABELS = {
    ActivityKind.COMPANION: N_("Meal companion (spiseven)"),
    ActivityKind.SHARED_MEAL: N_("Shared meal"),
}
WEEKDAYS = {
    1: N_("Monday"),
    2: N_("Tuesday"),
    3: N_("Wednesday"),
    4: N_("Thursday"),
    5: N_("Friday"),
    6: N_("Saturday"),
    7: N_("Sunday"),
}


def _helpers() -> dict[str, Any]:
    return {
        "partner_status": PARTNER_STATUS,
        "request_status": REQUEST_STATUS,
        "kind_labels": KIND_LABELS,
        "weekdays": WEEKDAYS,
        "standard": service.COMMUNITY_STANDARD,
        "visit_observations": service.VISIT_OBSERVATIONS,
        "allergen_labels": ALLERGEN_LABELS,
    }


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _int(text: str, refusal: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise InvalidInput(refusal) from exc


# --- an association registers -------------------------------------------------------

REGISTRATION_FIELDS = (
    "name",
    "contact_email",
    "contact_phone",
    "description",
    "coordinator_name",
    "coordinator_email",
)


async def _register_page(
    request: Request, session: AsyncSession, values: dict[str, Any], **extra: Any
) -> Response:
    status = extra.pop("status_code", 200)
    return render(
        request,
        "community/register.html",
        {
            **_helpers(),
            "values": values,
            "municipalities": await service.municipalities_to_choose(session),
            **extra,
        },
        status_code=status,
    )


@router.get("/community/register", response_class=HTMLResponse)
async def register_form(request: Request, session: Session, _: Anyone) -> Response:
    return await _register_page(request, session, {})


@router.post("/community/register", response_class=HTMLResponse)
async def register_submit(request: Request, session: Session, _: Anyone) -> Response:
    form = await request.form()
    values: dict[str, Any] = {name: _text(form, name) for name in REGISTRATION_FIELDS}
    values["municipality_id"] = _text(form, "municipality_id")
    values["pledges"] = [p for p in form.getlist("pledges") if isinstance(p, str)]
    try:
        result = await service.register_partner(
            session,
            registration=service.PartnerRegistration(
                municipality_id=_int(
                    values["municipality_id"], N_("Please choose a municipality.")
                ),
                name=values["name"],
                contact_email=values["contact_email"],
                contact_phone=values["contact_phone"],
                description=values["description"],
                pledges=values["pledges"],
                coordinator_name=values["coordinator_name"],
                coordinator_email=values["coordinator_email"],
                coordinator_password=_text(form, "coordinator_password"),
            ),
            sign_in=_settings(request),
        )
    except AppError as exc:
        return await _register_page(
            request, session, values, error=exc.sentence(), status_code=exc.status_code
        )
    assert result.session_token is not None
    return signed_in_redirect(request, result.session_token, "/community/partner?done=registered")


# --- the municipality ------------------------------------------------------------------


@router.get("/community/partners", response_class=HTMLResponse)
async def partners_page(request: Request, session: Session, actor: FigureViewer) -> Response:
    return render(
        request,
        "community/partners.html",
        {
            **_helpers(),
            "partners": await service.partners(session, actor=actor),
            "figures": await service.participation(session, actor=actor),
            "done": request.query_params.get("done"),
        },
    )


@router.post("/community/partners/{partner_id}/{move}", response_class=HTMLResponse)
async def decide(
    request: Request,
    session: Session,
    actor: Reviewer,
    partner_id: int,
    move: str,
    note: Annotated[str, Form()] = "",
) -> Response:
    await service.decide_partner(session, actor=actor, partner_id=partner_id, move=move, note=note)
    return RedirectResponse(f"/community/partners?done={move}", status_code=303)


@router.get("/community/partners/{partner_id}/report.csv")
async def report_csv(session: Session, actor: Reporter, partner_id: int) -> Response:
    partner, rows = await service.report_rows(session, actor=actor, partner_id=partner_id)
    return StreamingResponse(
        service.csv_lines(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="community-{partner.id}.csv"'},
    )


# --- the association's coordinator ---------------------------------------------------------


async def _partner_page(
    request: Request, session: AsyncSession, actor: Actor, **extra: Any
) -> Response:
    status = extra.pop("status_code", 200)
    return render(
        request,
        "community/partner.html",
        {
            **_helpers(),
            "view": await service.coordinator_view(session, actor=actor),
            "done": request.query_params.get("done"),
            **extra,
        },
        status_code=status,
    )


@router.get("/community/partner", response_class=HTMLResponse)
async def partner_page(request: Request, session: Session, actor: Coordinator) -> Response:
    return await _partner_page(request, session, actor)


def _optional_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError as exc:
        raise InvalidInput(N_("Write the day as YYYY-MM-DD.")) from exc


def _optional_time(text: str) -> time | None:
    try:
        return time.fromisoformat(text) if text else None
    except ValueError as exc:
        raise InvalidInput(N_("Write the time as HH:MM.")) from exc


@router.post("/community/partner/activities", response_class=HTMLResponse)
async def new_activity(request: Request, session: Session, actor: Coordinator) -> Response:
    form = await request.form()
    try:
        seats = _text(form, "seats")
        await service.create_activity(
            session,
            actor=actor,
            activity=service.ActivityInput(
                kind=_text(form, "kind"),
                title=_text(form, "title"),
                description=_text(form, "description"),
                place=_text(form, "place"),
                postal_code=_text(form, "postal_code"),
                held_on=_optional_date(_text(form, "held_on")),
                starts_at=_optional_time(_text(form, "starts_at")),
                weekdays=[
                    _int(d, N_("Choose weekdays from Monday to Sunday."))
                    for d in form.getlist("weekdays")
                    if isinstance(d, str)
                ],
                seats=_int(seats, N_("Give between 1 and 500 seats.")) if seats else 0,
                transport=form.get("transport") == "yes",
            ),
        )
    except AppError as exc:
        if exc.status_code in (403, 404):
            raise
        return await _partner_page(
            request, session, actor, error=exc.sentence(), status_code=exc.status_code
        )
    return RedirectResponse("/community/partner?done=activity", status_code=303)


@router.post("/community/partner/volunteers", response_class=HTMLResponse)
async def new_volunteer(
    request: Request,
    session: Session,
    actor: Coordinator,
    full_name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
) -> Response:
    try:
        added = await service.add_volunteer(
            session, actor=actor, full_name=full_name, email=email, settings=_settings(request)
        )
    except AppError as exc:
        if exc.status_code in (403, 404):
            raise
        return await _partner_page(
            request, session, actor, error=exc.sentence(), status_code=exc.status_code
        )
    # The link is shown once, here, as the people page does for an invitation.
    return await _partner_page(request, session, actor, invitation_link=added.link, status_code=201)


@router.post("/community/partner/volunteers/{member_id}/remove", response_class=HTMLResponse)
async def remove_volunteer(session: Session, actor: Coordinator, member_id: int) -> Response:
    await service.remove_volunteer(session, actor=actor, member_id=member_id)
    return RedirectResponse("/community/partner?done=removed", status_code=303)


@router.post("/community/partner/requests/{request_id}/propose", response_class=HTMLResponse)
async def propose(
    session: Session,
    actor: Coordinator,
    request_id: int,
    member_id: Annotated[int, Form()],
) -> Response:
    await service.propose_volunteer(
        session, actor=actor, request_id=request_id, member_id=member_id
    )
    return RedirectResponse("/community/partner?done=proposed", status_code=303)


@router.post("/community/partner/requests/{request_id}/end", response_class=HTMLResponse)
async def end_by_partner(session: Session, actor: Coordinator, request_id: int) -> Response:
    await service.end_match_by_partner(session, actor=actor, request_id=request_id)
    return RedirectResponse("/community/partner?done=ended", status_code=303)


@router.post("/community/partner/bookings/{booking_id}/attended", response_class=HTMLResponse)
async def attended(session: Session, actor: Coordinator, booking_id: int) -> Response:
    await service.mark_attended(session, actor=actor, booking_id=booking_id)
    return RedirectResponse("/community/partner?done=attended", status_code=303)


# --- the citizen, a linked relative or the case worker ----------------------------------


def _base(actor: Actor, citizen_id: int | None) -> str:
    if actor.role == Role.CITIZEN or citizen_id is None:
        return "/community"
    return f"/citizens/{citizen_id}/community"


async def _citizen_page(
    request: Request, session: AsyncSession, actor: Actor, citizen_id: int | None, **extra: Any
) -> Response:
    status = extra.pop("status_code", 200)
    view = await service.community_view(session, actor=actor, citizen_id=citizen_id)
    cid = view.citizen.id if view.citizen else None
    return render(
        request,
        "community/citizen.html",
        {
            **_helpers(),
            "view": view,
            "base": _base(actor, cid),
            "done": request.query_params.get("done"),
            **extra,
        },
        status_code=status,
    )


@router.get("/community", response_class=HTMLResponse)
async def citizen_page(request: Request, session: Session, actor: TakingPart) -> Response:
    chosen = request.query_params.get("citizen")
    citizen_id = int(chosen) if chosen and chosen.isdigit() else None
    return await _citizen_page(request, session, actor, citizen_id)


@router.get("/citizens/{citizen_id}/community", response_class=HTMLResponse)
async def citizen_page_for(
    request: Request, session: Session, actor: TakingPart, citizen_id: int
) -> Response:
    return await _citizen_page(request, session, actor, citizen_id)


def _back(actor: Actor, citizen_id: int, done: str) -> RedirectResponse:
    return RedirectResponse(f"{_base(actor, citizen_id)}?done={done}", status_code=303)


@router.post("/community/companion", response_class=HTMLResponse)
async def ask(
    request: Request,
    session: Session,
    actor: TakingPart,
    citizen_id: Annotated[int, Form()],
    activity_id: Annotated[int, Form()],
    weekdays: Annotated[list[int] | None, Form()] = None,
    wishes: Annotated[str, Form()] = "",
) -> Response:
    try:
        await service.ask_for_companion(
            session,
            actor=actor,
            citizen_id=citizen_id,
            activity_id=activity_id,
            weekdays=weekdays or [],
            wishes=wishes,
        )
    except AppError as exc:
        if exc.status_code in (403, 404):
            raise
        return await _citizen_page(
            request, session, actor, citizen_id, error=exc.sentence(), status_code=exc.status_code
        )
    return _back(actor, citizen_id, "asked")


@router.post("/community/requests/{request_id}/answer", response_class=HTMLResponse)
async def answer(
    request: Request,
    session: Session,
    actor: TakingPart,
    request_id: int,
    answer: Annotated[str, Form()] = "",
    consent: Annotated[str, Form()] = "",
    citizen_id: Annotated[int | None, Form()] = None,
) -> Response:
    try:
        found = await service.answer_proposal(
            session,
            actor=actor,
            request_id=request_id,
            accept=answer == "accept",
            observations_consented=consent == "yes",
        )
    except AppError as exc:
        if exc.status_code in (403, 404) or citizen_id is None:
            raise
        return await _citizen_page(
            request, session, actor, citizen_id, error=exc.sentence(), status_code=exc.status_code
        )
    return _back(actor, found.citizen_id, "accepted" if answer == "accept" else "declined")


@router.post("/community/requests/{request_id}/end", response_class=HTMLResponse)
async def end_by_citizen(session: Session, actor: TakingPart, request_id: int) -> Response:
    await service.end_match_by_citizen(session, actor=actor, request_id=request_id)
    return RedirectResponse("/community?done=ended", status_code=303)


@router.post("/community/shared-meals/{activity_id}/book", response_class=HTMLResponse)
async def book(
    request: Request,
    session: Session,
    actor: TakingPart,
    activity_id: int,
    citizen_id: Annotated[int, Form()],
    skip_delivery: Annotated[str, Form()] = "",
) -> Response:
    try:
        booked = await service.book_seat(
            session,
            actor=actor,
            citizen_id=citizen_id,
            activity_id=activity_id,
            skip_delivery=skip_delivery == "yes",
        )
    except AppError as exc:
        if exc.status_code in (403, 404):
            raise
        return await _citizen_page(
            request, session, actor, citizen_id, error=exc.sentence(), status_code=exc.status_code
        )
    return _back(actor, citizen_id, "booked-skipped" if booked.skipped_orders else "booked")


@router.post("/community/bookings/{booking_id}/cancel", response_class=HTMLResponse)
async def cancel(session: Session, actor: TakingPart, booking_id: int) -> Response:
    booking = await service.cancel_booking(session, actor=actor, booking_id=booking_id)
    return _back(actor, booking.citizen_id, "cancelled")


# --- the volunteer ------------------------------------------------------------------------


async def _volunteer_page(
    request: Request, session: AsyncSession, actor: Actor, **extra: Any
) -> Response:
    status = extra.pop("status_code", 200)
    return render(
        request,
        "community/volunteer.html",
        {
            **_helpers(),
            "matches": await service.volunteer_matches(session, actor=actor),
            "done": request.query_params.get("done"),
            **extra,
        },
        status_code=status,
    )


@router.get("/volunteer", response_class=HTMLResponse)
async def volunteer_page(request: Request, session: Session, actor: Volunteer) -> Response:
    return await _volunteer_page(request, session, actor)


@router.post("/volunteer/visits/{visit_id}", response_class=HTMLResponse)
async def visit_held(
    request: Request,
    session: Session,
    actor: Volunteer,
    visit_id: int,
    observations: Annotated[list[str] | None, Form()] = None,
    text: Annotated[str, Form()] = "",
) -> Response:
    try:
        await service.record_visit(
            session, actor=actor, visit_id=visit_id, observations=observations or [], text=text
        )
    except AppError as exc:
        if exc.status_code in (403, 404):
            raise
        return await _volunteer_page(
            request, session, actor, error=exc.sentence(), status_code=exc.status_code
        )
    return RedirectResponse("/volunteer?done=held", status_code=303)


# --- the hook on "my orders" (registered by market.app; orders never import this) -------


async def my_orders_section(
    session: AsyncSession, actor: Actor, citizen_id: int
) -> tuple[str, dict[str, Any]]:
    """Planned visits and booked seats, for the citizen "my orders" has checked."""
    found = await service.my_orders_section(session, citizen_id=citizen_id)
    return "community/_my_orders.html", {
        "visits": found.visits,
        "seats": found.seats,
        "base": _base(actor, citizen_id),
    }
