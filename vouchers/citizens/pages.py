"""HTML pages about citizens: case workers find and register citizens, open
their record, and link proxies."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from market.auth.dependencies import Session
from market.auth.permissions import Actor
from market.clock import today as today_in_copenhagen
from market.dietary import Allergen, DietForm
from market.errors import AppError
from market.templating import render
from vouchers.citizens import cpr, proxies
from vouchers.citizens import service as citizens_service
from vouchers.ledger import weeks
from vouchers.letters.pages import letter_url
from vouchers.schemas import CitizenDetails
from vouchers.web import (
    LABELS,
    ProxyManager,
    StaffEdit,
    StaffView,
    form_choice,
    form_error,
    secret_key_of,
    settings_of,
)

router = APIRouter(include_in_schema=False)

# --- citizens (staff) ----------------------------------------------------------


async def _search(request: Request, session: Session, actor: Actor, q: str) -> Response:
    # A CPR number is never echoed back, so it appears in no page and no URL.
    shown = "" if cpr.looks_like_cpr(q) else q
    try:
        found = await citizens_service.search_citizens(
            session, actor=actor, secret_key=secret_key_of(request), query=q
        )
    except AppError as exc:
        return form_error(request, "vouchers/citizens.html", {"q": shown, "citizens": []}, exc)
    rows = [(c, cpr.mask_cpr(c.birth_date)) for c in found]
    return render(
        request, "vouchers/citizens.html", {"q": shown, "citizens": rows, "searched": bool(q)}
    )


@router.get("/citizens", response_class=HTMLResponse)
async def citizens(request: Request, session: Session, actor: StaffView, q: str = "") -> Response:
    return await _search(request, session, actor, q)


@router.post("/citizens", response_class=HTMLResponse)
async def search_citizens(
    request: Request, session: Session, actor: StaffView, q: Annotated[str, Form()] = ""
) -> Response:
    """The search form posts, so a CPR number never ends up in a URL or an access log."""
    return await _search(request, session, actor, q)


EMPTY_CITIZEN = {
    "full_name": "",
    "cpr": "",
    "address": "",
    "postal_code": "",
    "phone": "",
    "email": "",
    "language": "da",
    "diet_form": "normal",
    "diet_notes": "",
    "allergies": [],
    "contact_name": "",
    "contact_phone": "",
}


@router.get("/citizens/new", response_class=HTMLResponse)
async def new_citizen_form(request: Request, actor: StaffEdit) -> Response:
    return render(request, "vouchers/citizen_new.html", {**LABELS, "form": EMPTY_CITIZEN})


@router.post("/citizens/new", response_class=HTMLResponse)
async def new_citizen(
    request: Request,
    session: Session,
    actor: StaffEdit,
    full_name: Annotated[str, Form()] = "",
    cpr: Annotated[str, Form()] = "",
    address: Annotated[str, Form()] = "",
    postal_code: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    language: Annotated[str, Form()] = "da",
    diet_form: Annotated[str, Form()] = "normal",
    diet_notes: Annotated[str, Form()] = "",
    allergies: Annotated[list[str] | None, Form()] = None,
    contact_name: Annotated[str, Form()] = "",
    contact_phone: Annotated[str, Form()] = "",
) -> Response:
    form = {
        "full_name": full_name,
        "cpr": cpr,
        "address": address,
        "postal_code": postal_code,
        "phone": phone,
        "email": email,
        "language": language,
        "diet_form": diet_form,
        "diet_notes": diet_notes,
        "allergies": allergies or [],
        "contact_name": contact_name,
        "contact_phone": contact_phone,
    }
    try:
        citizen = await citizens_service.create_citizen(
            session,
            actor=actor,
            secret_key=secret_key_of(request),
            details=CitizenDetails(
                full_name=full_name,
                cpr=cpr,
                address=address,
                postal_code=postal_code,
                phone=phone or None,
                email=email or None,
                language=language,
                diet_form=form_choice(DietForm, diet_form),
                diet_notes=diet_notes,
                allergies=tuple(form_choice(Allergen, a) for a in allergies or []),
                contact_name=contact_name or None,
                contact_phone=contact_phone or None,
            ),
        )
    except AppError as exc:
        # The CPR number is never sent back to the browser, not even in a form.
        return form_error(request, "vouchers/citizen_new.html", {"form": {**form, "cpr": ""}}, exc)
    return RedirectResponse(f"/citizens/{citizen.id}", status_code=303)


@router.get("/citizens/{citizen_id}", response_class=HTMLResponse)
async def citizen_record(
    request: Request, session: Session, actor: StaffView, citizen_id: int
) -> Response:
    record = await citizens_service.open_citizen_record(session, actor=actor, citizen_id=citizen_id)
    return render(
        request,
        "vouchers/citizen.html",
        {**LABELS, "record": record, "week": weeks.iso_week_of(today_in_copenhagen())},
    )


# --- proxies ---------------------------------------------------------------------


@router.get("/citizens/{citizen_id}/proxies/new", response_class=HTMLResponse)
async def proxy_form(
    request: Request, session: Session, actor: ProxyManager, citizen_id: int
) -> Response:
    await citizens_service.citizen_in_scope(session, actor=actor, citizen_id=citizen_id)
    return render(
        request,
        "vouchers/proxy_form.html",
        {"citizen_id": citizen_id, "form": {"full_name": "", "email": "", "relation": ""}},
    )


@router.get("/citizens/{citizen_id}/proxies/{proxy_user_id}/mitid", response_class=HTMLResponse)
async def proxy_mitid_form(
    request: Request, session: Session, actor: ProxyManager, citizen_id: int, proxy_user_id: int
) -> Response:
    await citizens_service.citizen_in_scope(session, actor=actor, citizen_id=citizen_id)
    await proxies.proxy_in_scope(session, actor=actor, proxy_user_id=proxy_user_id)
    return render(
        request,
        "vouchers/proxy_mitid.html",
        {"citizen_id": citizen_id, "proxy_user_id": proxy_user_id},
    )


@router.post("/citizens/{citizen_id}/proxies/{proxy_user_id}/mitid", response_class=HTMLResponse)
async def proxy_mitid(
    request: Request,
    session: Session,
    actor: ProxyManager,
    citizen_id: int,
    proxy_user_id: int,
    cpr: Annotated[str, Form()] = "",
) -> Response:
    """The proxy's own CPR number, posted (never in a URL), kept as a keyed hash
    only, so the proxy can sign in with their own MitID."""
    context = {"citizen_id": citizen_id, "proxy_user_id": proxy_user_id}
    try:
        await proxies.set_proxy_cpr(
            session,
            actor=actor,
            settings=settings_of(request),
            proxy_user_id=proxy_user_id,
            cpr=cpr,
        )
    except AppError as exc:
        return form_error(request, "vouchers/proxy_mitid.html", context, exc)
    return render(request, "vouchers/proxy_mitid.html", {**context, "saved": True})


@router.post("/citizens/{citizen_id}/proxies/new", response_class=HTMLResponse)
async def link_proxy(
    request: Request,
    session: Session,
    actor: ProxyManager,
    citizen_id: int,
    full_name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    relation: Annotated[str, Form()] = "",
) -> Response:
    form = {"full_name": full_name, "email": email, "relation": relation}
    try:
        linked = await proxies.link_proxy(
            session,
            actor=actor,
            settings=settings_of(request),
            citizen_id=citizen_id,
            full_name=full_name,
            email=email,
            relation=relation,
        )
    except AppError as exc:
        context = {"citizen_id": citizen_id, "form": form}
        return form_error(request, "vouchers/proxy_form.html", context, exc)
    return render(
        request,
        "vouchers/proxy_linked.html",
        {
            "citizen_id": citizen_id,
            "linked": linked,
            "url": letter_url(request, linked.letter_code),
        },
        status_code=201,
    )


@router.post("/citizens/{citizen_id}/proxies/{link_id}/unlink")
async def unlink_proxy(
    session: Session, actor: ProxyManager, citizen_id: int, link_id: int
) -> Response:
    await proxies.unlink_proxy(session, actor=actor, citizen_id=citizen_id, link_id=link_id)
    return RedirectResponse(f"/citizens/{citizen_id}", status_code=303)
