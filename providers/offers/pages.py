"""HTML pages of a provider's menu (offers with photos) and of how it takes
orders (ordering profile and webhook secret)."""

from datetime import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from market.auth.dependencies import Session, require
from market.auth.permissions import Actor
from market.db import utcnow
from market.dietary import ALLERGEN_LABELS, DIET_FORM_LABELS
from market.errors import N_, AppError, InvalidInput, NotFound
from market.i18n import gettext
from market.templating import render
from providers.forms import (
    P,
    settings_of,
    text_field,
    whole_number,
)
from providers.offers import service as offers_service

router = APIRouter(include_in_schema=False)


OfferAdmin = Annotated[Actor, Depends(require(P.OFFER_MANAGE))]


SignedIn = Annotated[Actor, Depends(require())]


OFFER_WEEKDAYS = {
    1: N_("Monday"),
    2: N_("Tuesday"),
    3: N_("Wednesday"),
    4: N_("Thursday"),
    5: N_("Friday"),
    6: N_("Saturday"),
    7: N_("Sunday"),
}


OFFER_LABELS = {
    "diets": DIET_FORM_LABELS,
    "allergens": ALLERGEN_LABELS,
    "weekdays": OFFER_WEEKDAYS,
}


def _offer_values(form: FormData) -> dict[str, Any]:
    return {
        "name": text_field(form, "name"),
        "description": text_field(form, "description"),
        "diet_forms": [v for v in form.getlist("diet_forms") if isinstance(v, str)],
        "allergens": [v for v in form.getlist("allergens") if isinstance(v, str)],
        "weekdays": [v for v in form.getlist("weekdays") if isinstance(v, str)],
        "daily_capacity": text_field(form, "daily_capacity").strip(),
        "active": text_field(form, "active") == "yes",
    }


async def _photo_bytes(form: FormData, limit: int) -> bytes | None:
    upload = form.get("photo")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    return await upload.read(limit + 1)  # one byte over the limit is enough to refuse


async def _save_offer_form(
    request: Request, session: Session, actor: Actor, offer_id: int | None
) -> Response:
    settings = settings_of(request)
    form = await request.form()
    values = _offer_values(form)
    try:
        capacity = values["daily_capacity"]
        await offers_service.save_offer(
            session,
            actor=actor,
            settings=settings,
            offer_id=offer_id,
            name=values["name"],
            description=values["description"],
            diet_forms=values["diet_forms"],
            allergens=values["allergens"],
            weekdays=[whole_number(d, N_("weekday")) for d in values["weekdays"]],
            daily_capacity=whole_number(capacity, N_("Daily capacity")) if capacity else None,
            active=values["active"],
            photo=await _photo_bytes(form, settings.max_upload_bytes),
        )
    except AppError as exc:
        return render(
            request,
            "providers/offer_form.html",
            {**OFFER_LABELS, "values": values, "offer_id": offer_id, "error": exc.sentence()},
            status_code=exc.status_code,
        )
    return RedirectResponse("/provider/offers?done=saved", status_code=303)


@router.get("/provider/offers", response_class=HTMLResponse)
async def offer_list(
    request: Request, session: Session, actor: OfferAdmin, done: str | None = None
) -> Response:
    offers = await offers_service.offers_of_own_provider(session, actor=actor)
    return render(
        request, "providers/offers.html", {**OFFER_LABELS, "offers": offers, "done": done}
    )


@router.get("/provider/offers/new", response_class=HTMLResponse)
async def offer_new(request: Request, actor: OfferAdmin) -> Response:
    values = {
        "diet_forms": ["normal"],
        "allergens": [],
        "weekdays": ["1", "2", "3", "4", "5", "6", "7"],
        "active": True,
    }
    return render(
        request, "providers/offer_form.html", {**OFFER_LABELS, "values": values, "offer_id": None}
    )


@router.post("/provider/offers/new", response_class=HTMLResponse)
async def offer_create(request: Request, session: Session, actor: OfferAdmin) -> Response:
    return await _save_offer_form(request, session, actor, None)


@router.get("/provider/offers/{offer_id}", response_class=HTMLResponse)
async def offer_edit(
    request: Request, session: Session, actor: OfferAdmin, offer_id: int
) -> Response:
    offer = await offers_service.own_offer(session, actor=actor, offer_id=offer_id)
    values = {
        "name": offer.name,
        "description": offer.description,
        "diet_forms": offer.diet_forms,
        "allergens": offer.allergens,
        "weekdays": offer.weekdays.split(","),
        "daily_capacity": offer.daily_capacity if offer.daily_capacity is not None else "",
        "active": offer.active,
    }
    return render(
        request,
        "providers/offer_form.html",
        {**OFFER_LABELS, "values": values, "offer_id": offer_id, "offer": offer},
    )


@router.post("/provider/offers/{offer_id}", response_class=HTMLResponse)
async def offer_update(
    request: Request, session: Session, actor: OfferAdmin, offer_id: int
) -> Response:
    return await _save_offer_form(request, session, actor, offer_id)


@router.get("/offers/{offer_id}/photo")
async def offer_photo(
    request: Request, session: Session, actor: SignedIn, offer_id: int, thumbnail: bool = False
) -> Response:
    path = await offers_service.get_offer_photo(
        session, settings=settings_of(request), offer_id=offer_id, thumbnail=thumbnail
    )
    if not path.is_file():
        raise NotFound(N_("That meal has no photo."))
    return FileResponse(
        path,
        media_type="image/webp",
        headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


def _clock(text: str, what: str) -> time:
    try:
        return time.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput(
            N_("Please give a time of day (HH:MM): {what}."), what=gettext(what)
        ) from exc


PROFILE_FIELDS = (
    "cutoff_days_before",
    "cutoff_time",
    "window_start",
    "window_end",
    "accept_within_hours",
    "webhook_url",
)


def _profile_values(profile: Any) -> dict[str, Any]:
    return {
        "cutoff_days_before": profile.cutoff_days_before,
        "cutoff_time": profile.cutoff_time.strftime("%H:%M"),
        "window_start": profile.window_start.strftime("%H:%M"),
        "window_end": profile.window_end.strftime("%H:%M"),
        "accept_within_hours": profile.accept_within_hours,
        "auto_accept": profile.auto_accept,
        "webhook_url": profile.webhook_url or "",
    }


@router.get("/provider/ordering", response_class=HTMLResponse)
async def ordering_profile(
    request: Request, session: Session, actor: OfferAdmin, done: str | None = None
) -> Response:
    profile = await offers_service.own_ordering_profile(session, actor=actor)
    return render(
        request,
        "providers/ordering_profile.html",
        {
            "values": _profile_values(profile),
            "secret": profile.webhook_secret,
            "previous_until": profile.webhook_previous_secret_until
            if len(profile.signing_secrets(utcnow())) > 1
            else None,
            "grace_hours": settings_of(request).webhook_secret_grace_hours,
            "done": done,
        },
    )


@router.post("/provider/ordering/webhook-secret", response_class=HTMLResponse)
async def webhook_secret_rotate(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(P.PROVIDER_PROFILE_EDIT))],
) -> Response:
    await offers_service.rotate_webhook_secret(session, actor=actor, settings=settings_of(request))
    return RedirectResponse("/provider/ordering?done=rotated", status_code=303)


@router.post("/provider/ordering", response_class=HTMLResponse)
async def ordering_profile_save(request: Request, session: Session, actor: OfferAdmin) -> Response:
    form = await request.form()
    values: dict[str, Any] = {name: text_field(form, name) for name in PROFILE_FIELDS}
    values["auto_accept"] = text_field(form, "auto_accept") == "yes"
    try:
        await offers_service.save_ordering_profile(
            session,
            actor=actor,
            cutoff_days_before=whole_number(values["cutoff_days_before"], N_("Days before")),
            cutoff_time=_clock(values["cutoff_time"], N_("Cut-off time")),
            window_start=_clock(values["window_start"], N_("Delivery from")),
            window_end=_clock(values["window_end"], N_("Delivery until")),
            accept_within_hours=whole_number(values["accept_within_hours"], N_("Accept within")),
            auto_accept=values["auto_accept"],
            webhook_url=values["webhook_url"],
            settings=settings_of(request),
        )
    except AppError as exc:
        return render(
            request,
            "providers/ordering_profile.html",
            {"values": values, "secret": None, "error": exc.sentence()},
            status_code=exc.status_code,
        )
    return RedirectResponse("/provider/ordering?done=saved", status_code=303)
