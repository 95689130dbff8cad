"""HTML pages of approvals: suspending, reinstating and revoking one, and
its versioned contract terms."""

from decimal import Decimal
from typing import Annotated, Any

from babel.numbers import format_decimal
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from market import i18n
from market.auth.dependencies import Session, require
from market.auth.permissions import Actor
from market.errors import N_, AppError, InvalidInput, NotFound
from market.money import format_kroner
from market.templating import render
from providers import common
from providers.approvals import service as approvals_service
from providers.forms import (
    FIELD_LABELS,
    P,
    optional_date,
    text_field,
    whole_number,
)
from providers.models import ApprovalStatus
from providers.registry import service as registry_service

router = APIRouter(include_in_schema=False)


_MOVES = {
    "suspend": (approvals_service.suspend_approval, ApprovalStatus.SUSPENDED),
    "reinstate": (approvals_service.reinstate_approval, ApprovalStatus.ACTIVE),
    "revoke": (approvals_service.revoke_approval, ApprovalStatus.REVOKED),
}


@router.post("/approvals/{approval_id}/{move}", response_class=HTMLResponse)
async def approval_move(
    request: Request,
    session: Session,
    approval_id: int,
    move: str,
    actor: Annotated[Actor, Depends(require(P.APPROVAL_MANAGE))],
    provider_id: Annotated[int, Form()],
    reason: Annotated[str, Form()] = "",
) -> Response:
    if move not in _MOVES:
        raise NotFound(N_("That page does not exist."))
    change, _ = _MOVES[move]
    try:
        await change(session, actor=actor, approval_id=approval_id, reason=reason)
    except AppError as exc:
        row = await registry_service.provider_detail(session, actor=actor, provider_id=provider_id)
        return render(
            request,
            "providers/provider.html",
            {
                "row": row,
                "move_error": exc.sentence(),
                "error_approval_id": approval_id,
                "error_move": move,
                "reason": reason,
            },
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/providers/{provider_id}?done={move}", status_code=303)


TermsAdmin = Annotated[Actor, Depends(require(P.CONTRACT_TERMS_MANAGE))]


# The form's fields: kroner, whole units, percentages (→ basis points).
TERMS_FORM_FIELDS = (
    "valid_from",
    "unit_price",
    "min_units_per_month",
    "shortfall_rate",
    "rebate_threshold_units",
    "rebate",
    "on_time_target",
    "malus_per_point",
    "malus_cap",
    "bonus_threshold",
    "bonus",
    "citizen_absent_share",
    "late_cancel_share",
    "note",
    "vat_category",
    "vat_rate",
    "vat_exemption_reason",
)


_PERCENT_FIELDS = {
    "shortfall_rate": "shortfall_rate_bp",
    "rebate": "rebate_bp",
    "on_time_target": "on_time_target_bp",
    "malus_per_point": "malus_bp_per_point",
    "malus_cap": "malus_cap_bp",
    "bonus_threshold": "bonus_threshold_bp",
    "bonus": "bonus_bp",
    "citizen_absent_share": "citizen_absent_share_bp",
    "late_cancel_share": "late_cancel_share_bp",
}


_OPTIONAL_TERMS = {"rebate_threshold_units", "bonus_threshold"}


def _percent_text(bp: int | None) -> str:
    """Basis points as the form shows them: 250 → '2,5'."""
    if bp is None:
        return ""
    whole, rest = divmod(bp, 100)
    return f"{whole}" if not rest else f"{whole},{rest:02d}".rstrip("0")


def percent_of_bp(bp: int | None) -> str:
    """Basis points as a percentage in the page's language: 250 → '2,5' or '2.5'."""
    if bp is None:
        return ""
    locale = "da_DK" if i18n.current_language.get() == "da" else "en_GB"
    return format_decimal(Decimal(bp).scaleb(-2), format="#,##0.##", locale=locale)


def _terms_values(terms: Any | None) -> dict[str, str]:
    """A version's figures as form text, so the next version starts from them."""
    if terms is None:
        return {}
    values = {form: _percent_text(getattr(terms, bp)) for form, bp in _PERCENT_FIELDS.items()}
    values["unit_price"] = format_kroner(terms.unit_price_ore)
    values["min_units_per_month"] = str(terms.min_units_per_month)
    values["rebate_threshold_units"] = (
        "" if terms.rebate_threshold_units is None else str(terms.rebate_threshold_units)
    )
    values["vat_category"] = terms.vat_category
    values["vat_rate"] = _percent_text(terms.vat_rate_bp)
    values["vat_exemption_reason"] = terms.vat_exemption_reason
    return values


def _parse_terms_form(values: dict[str, str]) -> dict[str, Any]:
    valid_from = optional_date(values["valid_from"])
    if valid_from is None:
        raise InvalidInput(N_("Give the day the new terms start."))
    parsed: dict[str, Any] = {
        "valid_from": valid_from,
        "unit_price_ore": common.parse_unit_price(values["unit_price"]),
        "note": values["note"],
        "vat_category": values["vat_category"] or "E",
        "vat_rate_bp": common.parse_percent_bp(values["vat_rate"].strip() or "0"),
        "vat_exemption_reason": values["vat_exemption_reason"],
    }
    for name in ("min_units_per_month", "rebate_threshold_units"):
        text = values[name].strip()
        if not text and name in _OPTIONAL_TERMS:
            parsed[name] = None
            continue
        parsed[name] = whole_number(text or "0", FIELD_LABELS[name])
    for form_name, bp_name in _PERCENT_FIELDS.items():
        text = values[form_name].strip()
        if not text and form_name in _OPTIONAL_TERMS:
            parsed[bp_name] = None
            continue
        parsed[bp_name] = common.parse_percent_bp(text or "0")
    return parsed


async def _terms_page(
    request: Request,
    session: Session,
    actor: Actor,
    approval_id: int,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    history = await approvals_service.contract_terms_history(
        session, actor=actor, approval_id=approval_id
    )
    context.setdefault("values", _terms_values(history.latest))
    return render(
        request,
        "providers/terms.html",
        {
            "history": history,
            "done": request.query_params.get("done"),
            "pct": percent_of_bp,
            **context,
        },
        status_code=status_code,
    )


@router.get("/approvals/{approval_id}/terms", response_class=HTMLResponse)
async def terms_page(
    request: Request, session: Session, approval_id: int, actor: TermsAdmin
) -> Response:
    return await _terms_page(request, session, actor, approval_id)


# Three path segments, so the approval's "/approvals/{id}/{move}" never takes it.
@router.post("/approvals/{approval_id}/terms/versions", response_class=HTMLResponse)
async def terms_add(
    request: Request, session: Session, approval_id: int, actor: TermsAdmin
) -> Response:
    form = await request.form()
    values = {name: text_field(form, name) for name in TERMS_FORM_FIELDS}
    try:
        await approvals_service.add_contract_terms(
            session, actor=actor, approval_id=approval_id, **_parse_terms_form(values)
        )
    except AppError as exc:
        return await _terms_page(
            request,
            session,
            actor,
            approval_id,
            status_code=exc.status_code,
            error=exc.sentence(),
            values=values,
        )
    return RedirectResponse(f"/approvals/{approval_id}/terms?done=added", status_code=303)
