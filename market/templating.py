"""The one Jinja2 environment: gettext, formatting filters and the page helper."""

from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

from market import i18n

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
COPENHAGEN = ZoneInfo("Europe/Copenhagen")

templates = Jinja2Templates(
    env=Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
    )
)
templates.env.install_gettext_callables(  # type: ignore[attr-defined]
    i18n.gettext, i18n.ngettext, newstyle=True
)
templates.env.policies["ext.i18n.trimmed"] = True


def _locale() -> str:
    return i18n.babel_locale()


def kroner(ore: int | str | Decimal | None, language: str | None = None) -> str:
    """da "1.234,50 kr.", en "1,234.50 kr."; a fraction of an øre (a unit
    amount such as "6233.7833") rounds half-even."""
    if ore is None:
        return ""
    value = (Decimal(str(ore)) / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    return format_decimal(value, format="#,##0.00", locale=i18n.babel_locale(language)) + " kr."


def month_words(month_on: date, language: str | None = None) -> str:
    """da "oktober 2026", en "October 2026"."""
    return format_date(month_on, "LLLL y", locale=i18n.babel_locale(language))


def local_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    return format_datetime(value.astimezone(COPENHAGEN), format="short", locale=_locale())


def local_date(value: date | None) -> str:
    if value is None:
        return ""
    return format_date(value, format="long", locale=_locale())


templates.env.filters["kroner"] = kroner
templates.env.filters["local_datetime"] = local_datetime
templates.env.filters["local_date"] = local_date
templates.env.globals["month_words"] = month_words
templates.env.globals["languages"] = i18n.LANGUAGES
templates.env.globals["current_language"] = i18n.current_language.get


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    from market.auth.dependencies import csrf_token

    ctx = {"actor": getattr(request.state, "actor", None), "csrf_token": csrf_token(request)}
    ctx.update(context or {})
    return templates.TemplateResponse(request, template, ctx, status_code=status_code)
