"""What the providers' HTML pages share: the form field lists and labels,
and turning form text into checked values with a sentence for the person."""

from datetime import date
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from market.auth.permissions import Permission
from market.config import Settings
from market.errors import N_, InvalidInput
from market.i18n import gettext

M = TypeVar("M", bound=BaseModel)


P = Permission


REGISTRATION_FIELDS = (
    "name",
    "cvr",
    "address",
    "postal_code",
    "city",
    "contact_name",
    "contact_email",
    "contact_phone",
    "admin_email",
    "admin_full_name",
)


DETAIL_FIELDS = REGISTRATION_FIELDS[:1] + REGISTRATION_FIELDS[2:8]


FIELD_LABELS = {
    "valid_from": "Valid from",
    "valid_to": "Valid to",
    "daily_capacity": "Daily capacity",
    "unit_price": "Unit price",
    "service_area": "Service area",
    "reapply_by": "Re-apply by",
    "kind": "Kind",
    "min_units_per_month": "Minimum units per month",
    "rebate_threshold_units": "Rebate threshold (units)",
}


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def build(model: type[M], data: dict[str, Any]) -> M:
    """Pydantic's refusal, as a sentence naming the fields to check."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = sorted({str(e["loc"][0]) for e in exc.errors() if e.get("loc")})
        raise InvalidInput(
            N_("Please check these fields: {fields}."),
            fields=", ".join(gettext(FIELD_LABELS.get(f, f)) for f in fields),
        ) from exc


def text_field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def optional_date(text: str) -> date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(
            N_("{text} is not a date (use the form YYYY-MM-DD)."), text=text
        ) from exc


def whole_number(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError as exc:
        raise InvalidInput(N_("Please give a whole number: {what}."), what=gettext(what)) from exc
