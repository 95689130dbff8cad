"""The municipal dashboard: charts drawn as SVG on the server, each with the
same figures in a table beside it, so it reads without JavaScript and with a
screen reader."""

from decimal import Decimal
from typing import Annotated

from babel.numbers import format_decimal
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from market import i18n
from market.auth.dependencies import Session, require
from market.auth.permissions import Actor, Permission
from market.clock import parse_month
from market.dashboard import service
from market.templating import render

router = APIRouter(include_in_schema=False)


def percent_of_bp(bp: int | None) -> str:
    """8984 → '89,8 %' / '89.8 %'; '—' when there is no rate."""
    if bp is None:
        return "—"
    locale = "da_DK" if i18n.current_language.get() == "da" else "en_GB"
    return format_decimal(Decimal(bp).scaleb(-2), format="#,##0.0", locale=locale) + " %"


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(Permission.DASHBOARD_VIEW))],
    month: str | None = None,
) -> Response:
    view = await service.dashboard(
        session, actor=actor, month_on=parse_month(month) if month else None
    )
    return render(
        request,
        "dashboard/dashboard.html",
        {
            "view": view,
            "pct": percent_of_bp,
            "previous_month": service.previous_month(view.month_on),
            "following_month": service.following_month(view.month_on),
        },
    )
