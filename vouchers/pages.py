"""HTML pages: case workers find citizens, assess them, grant and change
vouchers, link proxies and print welcome letters; citizens and proxies see
"my voucher" and sign in once with the code from their letter."""

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

import segno
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from market.auth.dependencies import Session, public, require
from market.auth.pages import signed_in_redirect
from market.auth.permissions import Actor, Permission
from market.config import Settings
from market.dietary import ALLERGEN_LABELS, DIET_FORM_LABELS, Allergen, DietForm
from market.errors import N_, AppError
from market.i18n import gettext
from market.money import parse_kroner
from market.templating import render
from vouchers import service
from vouchers.exceptions import BadInput
from vouchers.models import GrantStatus
from vouchers.schemas import CitizenDetails, GrantTerms

router = APIRouter(include_in_schema=False)

StaffView = Annotated[Actor, Depends(require(Permission.CITIZEN_VIEW))]
StaffEdit = Annotated[Actor, Depends(require(Permission.CITIZEN_EDIT))]
GrantManager = Annotated[Actor, Depends(require(Permission.GRANT_MANAGE))]
ProxyManager = Annotated[Actor, Depends(require(Permission.PROXY_MANAGE))]

STATUS_LABELS = {
    GrantStatus.ACTIVE: N_("Active"),
    GrantStatus.SUPERSEDED: N_("Superseded"),
    GrantStatus.REVOKED: N_("Revoked"),
    GrantStatus.EXPIRED: N_("Expired"),
}
LABELS = {"diets": DIET_FORM_LABELS, "allergens": ALLERGEN_LABELS, "statuses": STATUS_LABELS}


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _secret(request: Request) -> str:
    return _settings(request).secret_key.get_secret_value()


def _form_error(
    request: Request, template: str, context: dict[str, Any], exc: AppError
) -> HTMLResponse:
    """Re-renders a form with the sentence, keeping everything typed."""
    if exc.keeps_changes:
        request.state.commit_despite_error = True
    return render(
        request,
        template,
        {**LABELS, **context, "error": exc.sentence()},
        status_code=exc.status_code,
    )


def _day(value: str, what: str, *, required: bool = True) -> date | None:
    value = value.strip()
    if not value:
        if required:
            raise BadInput(N_("Please give the date: {what}."), what=what)
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise BadInput(N_("{value} is not a date (YYYY-MM-DD)."), value=value) from exc


def _int(value: str, what: str) -> int:
    try:
        return int(value.strip())
    except ValueError as exc:
        raise BadInput(N_("Please give a whole number: {what}."), what=what) from exc


def _choice(enum: Any, value: str) -> Any:
    try:
        return enum(value)
    except ValueError as exc:
        raise BadInput(N_("{value} is not one of the choices."), value=value) from exc


def _terms(form: dict[str, Any]) -> GrantTerms:
    valid_from = _day(form["valid_from"], gettext("valid from"))
    valid_to = _day(form["valid_to"], gettext("valid to"))
    assert valid_from is not None and valid_to is not None
    return GrantTerms(
        units_per_week=_int(form["units_per_week"], gettext("units per week")),
        valid_from=valid_from,
        valid_to=valid_to,
        copayment_ore=parse_kroner(form["copayment"]),
        diet_form=_choice(DietForm, form["diet_form"]),
        allergies=tuple(_choice(Allergen, a) for a in form["allergies"]),
        reassess_on=_day(form["reassess_on"], "", required=False),
        rollover=bool(form["rollover"]),
    )


# --- citizens (staff) ----------------------------------------------------------


async def _search(request: Request, session: Session, actor: Actor, q: str) -> Response:
    # A CPR number is never echoed back, so it appears in no page and no URL.
    shown = "" if service.looks_like_cpr(q) else q
    try:
        found = await service.search_citizens(
            session, actor=actor, secret_key=_secret(request), query=q
        )
    except AppError as exc:
        return _form_error(request, "vouchers/citizens.html", {"q": shown, "citizens": []}, exc)
    rows = [(c, service.mask_cpr(c.birth_date)) for c in found]
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
        citizen = await service.create_citizen(
            session,
            actor=actor,
            secret_key=_secret(request),
            details=CitizenDetails(
                full_name=full_name,
                cpr=cpr,
                address=address,
                postal_code=postal_code,
                phone=phone or None,
                email=email or None,
                language=language,
                diet_form=_choice(DietForm, diet_form),
                diet_notes=diet_notes,
                allergies=tuple(_choice(Allergen, a) for a in allergies or []),
                contact_name=contact_name or None,
                contact_phone=contact_phone or None,
            ),
        )
    except AppError as exc:
        # The CPR number is never sent back to the browser, not even in a form.
        return _form_error(request, "vouchers/citizen_new.html", {"form": {**form, "cpr": ""}}, exc)
    return RedirectResponse(f"/citizens/{citizen.id}", status_code=303)


@router.get("/citizens/{citizen_id}", response_class=HTMLResponse)
async def citizen_record(
    request: Request, session: Session, actor: StaffView, citizen_id: int
) -> Response:
    record = await service.open_citizen_record(session, actor=actor, citizen_id=citizen_id)
    return render(
        request,
        "vouchers/citizen.html",
        {**LABELS, "record": record, "week": service.iso_week_of(service.today_in_copenhagen())},
    )


# --- grants ----------------------------------------------------------------------


def _empty_grant(**overrides: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "units_per_week": "7",
        "valid_from": "",
        "valid_to": "",
        "reassess_on": "",
        "copayment": "",
        "diet_form": "normal",
        "allergies": [],
        "rollover": False,
    }
    form.update(overrides)
    return form


@router.get("/citizens/{citizen_id}/grants/new", response_class=HTMLResponse)
async def new_grant_form(
    request: Request, session: Session, actor: GrantManager, citizen_id: int
) -> Response:
    await service.citizen_in_scope(session, actor=actor, citizen_id=citizen_id)
    return render(
        request,
        "vouchers/grant_form.html",
        {**LABELS, "citizen_id": citizen_id, "form": _empty_grant(), "mode": "new"},
    )


GrantForm = dict[str, Any]


def _grant_form(
    units_per_week: str,
    valid_from: str,
    valid_to: str,
    copayment: str,
    diet_form: str,
    reassess_on: str,
    allergies: list[str] | None,
    rollover: str | None,
) -> GrantForm:
    return {
        "units_per_week": units_per_week,
        "valid_from": valid_from,
        "valid_to": valid_to,
        "reassess_on": reassess_on,
        "copayment": copayment,
        "diet_form": diet_form,
        "allergies": allergies or [],
        "rollover": bool(rollover),
    }


@router.post("/citizens/{citizen_id}/grants/new", response_class=HTMLResponse)
async def new_grant(
    request: Request,
    session: Session,
    actor: GrantManager,
    citizen_id: int,
    units_per_week: Annotated[str, Form()] = "",
    valid_from: Annotated[str, Form()] = "",
    valid_to: Annotated[str, Form()] = "",
    copayment: Annotated[str, Form()] = "",
    diet_form: Annotated[str, Form()] = "normal",
    reassess_on: Annotated[str, Form()] = "",
    allergies: Annotated[list[str] | None, Form()] = None,
    rollover: Annotated[str | None, Form()] = None,
) -> Response:
    form = _grant_form(
        units_per_week, valid_from, valid_to, copayment, diet_form, reassess_on, allergies, rollover
    )
    try:
        await service.grant_voucher(session, actor=actor, citizen_id=citizen_id, terms=_terms(form))
    except AppError as exc:
        context = {"citizen_id": citizen_id, "form": form, "mode": "new"}
        return _form_error(request, "vouchers/grant_form.html", context, exc)
    return RedirectResponse(f"/citizens/{citizen_id}", status_code=303)


@router.get("/grants/{grant_id}/supersede", response_class=HTMLResponse)
async def supersede_form(
    request: Request, session: Session, actor: GrantManager, grant_id: int
) -> Response:
    grant = await service.grant_in_scope(session, actor=actor, grant_id=grant_id)
    return render(
        request,
        "vouchers/grant_form.html",
        {
            **LABELS,
            "citizen_id": grant.citizen_id,
            "grant_id": grant_id,
            "form": _empty_grant(),
            "mode": "supersede",
        },
    )


@router.post("/grants/{grant_id}/supersede", response_class=HTMLResponse)
async def supersede(
    request: Request,
    session: Session,
    actor: GrantManager,
    grant_id: int,
    citizen_id: Annotated[int, Form()],
    units_per_week: Annotated[str, Form()] = "",
    valid_from: Annotated[str, Form()] = "",
    valid_to: Annotated[str, Form()] = "",
    copayment: Annotated[str, Form()] = "",
    diet_form: Annotated[str, Form()] = "normal",
    reassess_on: Annotated[str, Form()] = "",
    allergies: Annotated[list[str] | None, Form()] = None,
    rollover: Annotated[str | None, Form()] = None,
) -> Response:
    form = _grant_form(
        units_per_week, valid_from, valid_to, copayment, diet_form, reassess_on, allergies, rollover
    )
    try:
        new = await service.supersede_grant(
            session, actor=actor, grant_id=grant_id, terms=_terms(form)
        )
    except AppError as exc:
        context = {"citizen_id": citizen_id, "grant_id": grant_id, "form": form}
        return _form_error(
            request, "vouchers/grant_form.html", {**context, "mode": "supersede"}, exc
        )
    return RedirectResponse(f"/citizens/{new.citizen_id}", status_code=303)


@router.get("/grants/{grant_id}/revoke", response_class=HTMLResponse)
async def revoke_form(
    request: Request, session: Session, actor: GrantManager, grant_id: int
) -> Response:
    grant = await service.grant_in_scope(session, actor=actor, grant_id=grant_id)
    return render(
        request,
        "vouchers/revoke.html",
        {"grant_id": grant_id, "citizen_id": grant.citizen_id, "reason": "", "ends_on": ""},
    )


@router.post("/grants/{grant_id}/revoke", response_class=HTMLResponse)
async def revoke(
    request: Request,
    session: Session,
    actor: GrantManager,
    grant_id: int,
    citizen_id: Annotated[int, Form()],
    reason: Annotated[str, Form()] = "",
    ends_on: Annotated[str, Form()] = "",
) -> Response:
    try:
        grant = await service.revoke_grant(
            session,
            actor=actor,
            grant_id=grant_id,
            reason=reason,
            ends_on=_day(ends_on, "", required=False),
        )
    except AppError as exc:
        context = {"grant_id": grant_id, "citizen_id": citizen_id, "reason": reason}
        return _form_error(request, "vouchers/revoke.html", {**context, "ends_on": ends_on}, exc)
    return RedirectResponse(f"/citizens/{grant.citizen_id}", status_code=303)


# --- proxies ---------------------------------------------------------------------


@router.get("/citizens/{citizen_id}/proxies/new", response_class=HTMLResponse)
async def proxy_form(
    request: Request, session: Session, actor: ProxyManager, citizen_id: int
) -> Response:
    await service.citizen_in_scope(session, actor=actor, citizen_id=citizen_id)
    return render(
        request,
        "vouchers/proxy_form.html",
        {"citizen_id": citizen_id, "form": {"full_name": "", "email": "", "relation": ""}},
    )


@router.get("/citizens/{citizen_id}/proxies/{proxy_user_id}/mitid", response_class=HTMLResponse)
async def proxy_mitid_form(
    request: Request, session: Session, actor: ProxyManager, citizen_id: int, proxy_user_id: int
) -> Response:
    await service.citizen_in_scope(session, actor=actor, citizen_id=citizen_id)
    await service.proxy_in_scope(session, actor=actor, proxy_user_id=proxy_user_id)
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
        await service.set_proxy_cpr(
            session,
            actor=actor,
            settings=_settings(request),
            proxy_user_id=proxy_user_id,
            cpr=cpr,
        )
    except AppError as exc:
        return _form_error(request, "vouchers/proxy_mitid.html", context, exc)
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
        linked = await service.link_proxy(
            session,
            actor=actor,
            settings=_settings(request),
            citizen_id=citizen_id,
            full_name=full_name,
            email=email,
            relation=relation,
        )
    except AppError as exc:
        context = {"citizen_id": citizen_id, "form": form}
        return _form_error(request, "vouchers/proxy_form.html", context, exc)
    return render(
        request,
        "vouchers/proxy_linked.html",
        {
            "citizen_id": citizen_id,
            "linked": linked,
            "url": _letter_url(request, linked.letter_code),
        },
        status_code=201,
    )


@router.post("/citizens/{citizen_id}/proxies/{link_id}/unlink")
async def unlink_proxy(
    session: Session, actor: ProxyManager, citizen_id: int, link_id: int
) -> Response:
    await service.unlink_proxy(session, actor=actor, citizen_id=citizen_id, link_id=link_id)
    return RedirectResponse(f"/citizens/{citizen_id}", status_code=303)


# --- the welcome letter ------------------------------------------------------------


def _letter_url(request: Request, code: str | None) -> str | None:
    """The QR link: the code rides in the fragment (after #), which a browser never
    sends to a server, so it reaches no access log, proxy or Referer. The sign-in
    page's small script copies it into the field; the person presses one button.
    Without script the field is empty and the code printed under the QR is typed."""
    if code is None:
        return None
    return str(request.base_url).rstrip("/") + "/letter-code#" + quote(code)


@router.get("/citizens/{citizen_id}/letter", response_class=HTMLResponse)
async def letter(request: Request, session: Session, actor: StaffEdit, citizen_id: int) -> Response:
    view = await service.letter(
        session, actor=actor, settings=_settings(request), citizen_id=citizen_id
    )
    url = _letter_url(request, view.code)
    qr_svg = (
        segno.make(url, error="m").svg_inline(scale=5, title=gettext("QR code to sign in"))
        if url
        else None
    )
    return render(
        request, "vouchers/letter.html", {**LABELS, "letter": view, "url": url, "qr_svg": qr_svg}
    )


@router.post("/citizens/{citizen_id}/letter-code")
async def reissue_letter_code(
    request: Request, session: Session, actor: StaffEdit, citizen_id: int
) -> Response:
    await service.issue_letter_code(
        session, actor=actor, settings=_settings(request), citizen_id=citizen_id
    )
    return RedirectResponse(f"/citizens/{citizen_id}/letter", status_code=303)


# --- citizens and proxies --------------------------------------------------------


@router.get("/my-voucher", response_class=HTMLResponse)
async def my_voucher(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(Permission.VOUCHER_VIEW_OWN))],
    citizen: Annotated[int | None, Query()] = None,
) -> Response:
    view = await service.my_voucher(session, actor=actor, citizen_id=citizen)
    return render(request, "vouchers/my_voucher.html", {"view": view})


@router.get("/letter-code", response_class=HTMLResponse)
async def letter_code_form(
    request: Request, _: Annotated[Actor | None, Depends(public)]
) -> Response:
    # A ?code= from an old link is ignored, never echoed: a code in a URL is spent.
    return render(request, "vouchers/letter_code.html", {"code": ""})


@router.post("/letter-code", response_class=HTMLResponse)
async def letter_code_sign_in(
    request: Request,
    session: Session,
    _: Annotated[Actor | None, Depends(public)],
    code: Annotated[str, Form()] = "",
) -> Response:
    try:
        _user, token = await service.sign_in_with_letter_code(
            session,
            settings=_settings(request),
            code=code,
            client_address=request.client.host if request.client else "unknown",
        )
    except AppError as exc:
        return _form_error(request, "vouchers/letter_code.html", {"code": code[:20]}, exc)
    return signed_in_redirect(request, token, "/letter-code/password")


@router.get("/letter-code/password", response_class=HTMLResponse)
async def password_form(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(Permission.ACCOUNT_SELF))],
) -> Response:
    user = await service.own_login(session, actor=actor)
    return render(request, "vouchers/set_password.html", {"login": user.email})


@router.post("/letter-code/password", response_class=HTMLResponse)
async def set_password(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(Permission.ACCOUNT_SELF))],
    password: Annotated[str, Form()] = "",
    login: Annotated[str, Form()] = "",
) -> Response:
    try:
        await service.set_own_password(session, actor=actor, password=password)
    except AppError as exc:
        return _form_error(request, "vouchers/set_password.html", {"login": login}, exc)
    target = "/my-voucher" if actor.can(Permission.VOUCHER_VIEW_OWN) else "/"
    return RedirectResponse(target, status_code=303)


# --- co-payment caps (municipal admin) -----------------------------------------

CapManager = Annotated[Actor, Depends(require(Permission.COPAYMENT_CAP_MANAGE))]


@router.get("/copayment-caps", response_class=HTMLResponse)
async def copayment_caps(request: Request, session: Session, actor: CapManager) -> Response:
    caps = await service.copayment_caps(session, actor=actor)
    return render(request, "vouchers/caps.html", {"caps": caps, "form": {"year": "", "cap": ""}})


@router.post("/copayment-caps", response_class=HTMLResponse)
async def set_copayment_cap(
    request: Request,
    session: Session,
    actor: CapManager,
    year: Annotated[str, Form()] = "",
    cap: Annotated[str, Form()] = "",
) -> Response:
    try:
        await service.set_own_copayment_cap(
            session,
            actor=actor,
            year=_int(year, gettext("year")),
            cap_ore=parse_kroner(cap),
        )
    except AppError as exc:
        context = {"caps": [], "form": {"year": year, "cap": cap}}
        return _form_error(request, "vouchers/caps.html", context, exc)
    return RedirectResponse("/copayment-caps", status_code=303)
