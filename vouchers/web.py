"""What the vouchers HTML pages share: the permissions they ask for, the labels,
and reading and re-rendering forms."""

from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from market.auth.dependencies import require
from market.auth.permissions import Actor, Permission
from market.config import Settings
from market.dietary import ALLERGEN_LABELS, DIET_FORM_LABELS, Allergen, DietForm
from market.errors import N_, AppError
from market.i18n import gettext
from market.money import parse_kroner
from market.templating import render
from vouchers.exceptions import BadInput
from vouchers.models import GrantStatus
from vouchers.schemas import GrantTerms

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


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def secret_key_of(request: Request) -> str:
    return settings_of(request).secret_key.get_secret_value()


def form_error(
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


def form_day(value: str, what: str, *, required: bool = True) -> date | None:
    value = value.strip()
    if not value:
        if required:
            raise BadInput(N_("Please give the date: {what}."), what=what)
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise BadInput(N_("{value} is not a date (YYYY-MM-DD)."), value=value) from exc


def form_int(value: str, what: str) -> int:
    try:
        return int(value.strip())
    except ValueError as exc:
        raise BadInput(N_("Please give a whole number: {what}."), what=what) from exc


def form_choice(enum: Any, value: str) -> Any:
    try:
        return enum(value)
    except ValueError as exc:
        raise BadInput(N_("{value} is not one of the choices."), value=value) from exc


def form_terms(form: dict[str, Any]) -> GrantTerms:
    valid_from = form_day(form["valid_from"], gettext("valid from"))
    valid_to = form_day(form["valid_to"], gettext("valid to"))
    assert valid_from is not None and valid_to is not None
    return GrantTerms(
        units_per_week=form_int(form["units_per_week"], gettext("units per week")),
        valid_from=valid_from,
        valid_to=valid_to,
        copayment_ore=parse_kroner(form["copayment"]),
        diet_form=form_choice(DietForm, form["diet_form"]),
        allergies=tuple(form_choice(Allergen, a) for a in form["allergies"]),
        reassess_on=form_day(form["reassess_on"], "", required=False),
        rollover=bool(form["rollover"]),
    )
