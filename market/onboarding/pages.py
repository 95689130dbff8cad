"""A platform admin sets up municipalities; an admin changes their profile."""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from market.auth.dependencies import Session, require
from market.auth.permissions import Actor, Permission
from market.errors import N_, AppError, InvalidInput
from market.money import parse_kroner
from market.municipalities import service as municipalities
from market.onboarding import service
from market.people import service as people
from market.templating import render

router = APIRouter(include_in_schema=False)

Creator = Annotated[Actor, Depends(require(Permission.MUNICIPALITY_CREATE))]
Editor = Annotated[Actor, Depends(require(Permission.MUNICIPALITY_EDIT))]

EMPTY_FORM = {
    "code": "",
    "name": "",
    "postal_codes": "",
    "contact_phone": "",
    "opening_hours": "",
    "oncall_email": "",
    "require_staff_totp": True,
    "charge_when_absent": False,
    "cap_year": "",
    "cap": "",
    "iban": "",
    "bic": "",
}


def _error(request: Request, template: str, context: dict[str, Any], exc: AppError) -> Response:
    return render(
        request, template, {**context, "error": exc.sentence()}, status_code=exc.status_code
    )


@router.get("/municipalities", response_class=HTMLResponse)
async def municipality_list(request: Request, session: Session, actor: Creator) -> Response:
    found = await service.all_municipalities(session)
    return render(request, "onboarding/list.html", {"municipalities": found})


@router.get("/municipalities/new", response_class=HTMLResponse)
async def new_form(request: Request, actor: Creator) -> Response:
    form = {**EMPTY_FORM, "cap_year": str(date.today().year)}
    return render(request, "onboarding/new.html", {"form": form})


def _cap(year: str, amount: str) -> dict[int, int]:
    if not year.strip() and not amount.strip():
        return {}
    if not year.strip().isdigit():
        raise InvalidInput(N_("A cap needs a year and an amount of 0 kr. or more."))
    return {int(year): parse_kroner(amount)}


@router.post("/municipalities/new", response_class=HTMLResponse)
async def create(
    request: Request,
    session: Session,
    actor: Creator,
    code: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    postal_codes: Annotated[str, Form()] = "",
    contact_phone: Annotated[str, Form()] = "",
    opening_hours: Annotated[str, Form()] = "",
    oncall_email: Annotated[str, Form()] = "",
    require_staff_totp: Annotated[bool, Form()] = False,
    charge_when_absent: Annotated[bool, Form()] = False,
    cap_year: Annotated[str, Form()] = "",
    cap: Annotated[str, Form()] = "",
    iban: Annotated[str, Form()] = "",
    bic: Annotated[str, Form()] = "",
) -> Response:
    form = dict(locals())
    del form["request"], form["session"], form["actor"]
    try:
        municipality = await service.set_up_municipality(
            session,
            actor=actor,
            setup=service.MunicipalitySetup(
                code=code,
                name=name,
                postal_codes_text=postal_codes,
                contact_phone=contact_phone,
                opening_hours=opening_hours,
                oncall_email=oncall_email,
                require_staff_totp=require_staff_totp,
                charge_copayment_when_absent=charge_when_absent,
                copayment_caps=_cap(cap_year, cap),
                payment_iban=iban,
                payment_bic=bic,
            ),
        )
    except AppError as exc:
        return _error(request, "onboarding/new.html", {"form": form}, exc)
    return RedirectResponse(f"/municipalities/{municipality.id}?done=created", status_code=303)


async def _settings_page(
    request: Request,
    session: Session,
    actor: Actor,
    municipality_id: int,
    *,
    form: dict[str, Any] | None = None,
    error: AppError | None = None,
    done: str | None = None,
) -> Response:
    municipalities.check_scope(actor, municipality_id)
    municipality = await municipalities.get(session, municipality_id=municipality_id)
    codes = await municipalities.postal_codes(session, municipality_id=municipality_id)
    if form is None:
        form = {
            "name": municipality.name,
            "postal_codes": "\n".join(f"{pc} {city}" for pc, city in codes.items()),
            "contact_phone": municipality.contact_phone or "",
            "opening_hours": municipality.opening_hours or "",
            "oncall_email": municipality.oncall_email or "",
            "require_staff_totp": municipality.require_staff_totp,
        }
    staff = await people.people(session, actor=actor, municipality_id=municipality_id)
    return render(
        request,
        "onboarding/settings.html",
        {
            "municipality": municipality,
            "form": form,
            "staff": staff,
            "role_labels": people.ROLE_LABELS,
            "done": done,
            "error": error.sentence() if error else None,
        },
        status_code=error.status_code if error else 200,
    )


@router.get("/municipalities/{municipality_id}", response_class=HTMLResponse)
async def settings_form(
    request: Request,
    session: Session,
    actor: Editor,
    municipality_id: int,
    done: str | None = None,
) -> Response:
    return await _settings_page(request, session, actor, municipality_id, done=done)


@router.post("/municipalities/{municipality_id}", response_class=HTMLResponse)
async def settings_save(
    request: Request,
    session: Session,
    actor: Editor,
    municipality_id: int,
    name: Annotated[str, Form()] = "",
    postal_codes: Annotated[str, Form()] = "",
    contact_phone: Annotated[str, Form()] = "",
    opening_hours: Annotated[str, Form()] = "",
    oncall_email: Annotated[str, Form()] = "",
    require_staff_totp: Annotated[bool, Form()] = False,
) -> Response:
    form = {
        "name": name,
        "postal_codes": postal_codes,
        "contact_phone": contact_phone,
        "opening_hours": opening_hours,
        "oncall_email": oncall_email,
        "require_staff_totp": require_staff_totp,
    }
    try:
        await service.update_profile(
            session,
            actor=actor,
            municipality_id=municipality_id,
            name=name,
            postal_codes_text=postal_codes,
            contact_phone=contact_phone,
            opening_hours=opening_hours,
            oncall_email=oncall_email,
            require_staff_totp=require_staff_totp,
        )
    except AppError as exc:
        if exc.status_code in (403, 404):
            raise
        return await _settings_page(request, session, actor, municipality_id, form=form, error=exc)
    return RedirectResponse(f"/municipalities/{municipality_id}?done=saved", status_code=303)
