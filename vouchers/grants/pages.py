"""HTML pages about vouchers: case workers grant, change and revoke them;
municipal admins set co-payment caps; citizens and proxies see "my voucher"."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from market.auth.dependencies import Session, require
from market.auth.permissions import Actor, Permission
from market.errors import AppError
from market.i18n import gettext
from market.money import parse_kroner
from market.templating import render
from vouchers.citizens import service as citizens_service
from vouchers.grants import service as grants_service
from vouchers.web import LABELS, GrantManager, form_day, form_error, form_int, form_terms

router = APIRouter(include_in_schema=False)

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
    await citizens_service.citizen_in_scope(session, actor=actor, citizen_id=citizen_id)
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
        await grants_service.grant_voucher(
            session, actor=actor, citizen_id=citizen_id, terms=form_terms(form)
        )
    except AppError as exc:
        context = {"citizen_id": citizen_id, "form": form, "mode": "new"}
        return form_error(request, "vouchers/grant_form.html", context, exc)
    return RedirectResponse(f"/citizens/{citizen_id}", status_code=303)


@router.get("/grants/{grant_id}/supersede", response_class=HTMLResponse)
async def supersede_form(
    request: Request, session: Session, actor: GrantManager, grant_id: int
) -> Response:
    grant = await citizens_service.grant_in_scope(session, actor=actor, grant_id=grant_id)
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
        new = await grants_service.supersede_grant(
            session, actor=actor, grant_id=grant_id, terms=form_terms(form)
        )
    except AppError as exc:
        context = {"citizen_id": citizen_id, "grant_id": grant_id, "form": form}
        return form_error(
            request, "vouchers/grant_form.html", {**context, "mode": "supersede"}, exc
        )
    return RedirectResponse(f"/citizens/{new.citizen_id}", status_code=303)


@router.get("/grants/{grant_id}/revoke", response_class=HTMLResponse)
async def revoke_form(
    request: Request, session: Session, actor: GrantManager, grant_id: int
) -> Response:
    grant = await citizens_service.grant_in_scope(session, actor=actor, grant_id=grant_id)
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
        grant = await grants_service.revoke_grant(
            session,
            actor=actor,
            grant_id=grant_id,
            reason=reason,
            ends_on=form_day(ends_on, "", required=False),
        )
    except AppError as exc:
        context = {"grant_id": grant_id, "citizen_id": citizen_id, "reason": reason}
        return form_error(request, "vouchers/revoke.html", {**context, "ends_on": ends_on}, exc)
    return RedirectResponse(f"/citizens/{grant.citizen_id}", status_code=303)


# --- citizens and proxies --------------------------------------------------------


@router.get("/my-voucher", response_class=HTMLResponse)
async def my_voucher(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(Permission.VOUCHER_VIEW_OWN))],
    citizen: Annotated[int | None, Query()] = None,
) -> Response:
    view = await grants_service.my_voucher(session, actor=actor, citizen_id=citizen)
    return render(request, "vouchers/my_voucher.html", {"view": view})


# --- co-payment caps (municipal admin) -----------------------------------------

CapManager = Annotated[Actor, Depends(require(Permission.COPAYMENT_CAP_MANAGE))]


@router.get("/copayment-caps", response_class=HTMLResponse)
async def copayment_caps(request: Request, session: Session, actor: CapManager) -> Response:
    caps = await grants_service.copayment_caps(session, actor=actor)
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
        await grants_service.set_own_copayment_cap(
            session,
            actor=actor,
            year=form_int(year, gettext("year")),
            cap_ore=parse_kroner(cap),
        )
    except AppError as exc:
        context = {"caps": [], "form": {"year": year, "cap": cap}}
        return form_error(request, "vouchers/caps.html", context, exc)
    return RedirectResponse("/copayment-caps", status_code=303)
