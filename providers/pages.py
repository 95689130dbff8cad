"""HTML pages: provider registration and portal, applying with evidence,
quality standards, the review queue, approvals and the provider list. Form
errors re-render the form with what the person typed and a 4xx status."""

from datetime import date, time
from decimal import Decimal
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from babel.numbers import format_decimal
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, UploadFile

from market import i18n
from market.auth.dependencies import Session, public, require
from market.auth.pages import signed_in_redirect
from market.auth.permissions import Actor, Permission
from market.config import Settings
from market.db import utcnow
from market.dietary import ALLERGEN_LABELS, DIET_FORM_LABELS
from market.errors import N_, AppError, InvalidInput, NotFound
from market.i18n import gettext
from market.money import format_kroner
from market.templating import render
from providers import service
from providers.exceptions import RequirementNotFound
from providers.models import ApprovalStatus
from providers.schemas import (
    ApprovalIn,
    DecisionIn,
    EvidenceIn,
    ProviderDetailsIn,
    ProviderRegistration,
    RequirementIn,
    StandardCreate,
)

router = APIRouter(include_in_schema=False)
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


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _build(model: type[M], data: dict[str, Any]) -> M:
    """Pydantic's refusal, as a sentence naming the fields to check."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = sorted({str(e["loc"][0]) for e in exc.errors() if e.get("loc")})
        raise InvalidInput(
            N_("Please check these fields: {fields}."),
            fields=", ".join(gettext(FIELD_LABELS.get(f, f)) for f in fields),
        ) from exc


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _optional_date(text: str) -> date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(
            N_("{text} is not a date (use the form YYYY-MM-DD)."), text=text
        ) from exc


# registration and portal


@router.get("/providers/register", response_class=HTMLResponse)
async def register_form(request: Request, _: Annotated[Actor | None, Depends(public)]) -> Response:
    return render(request, "providers/register.html", {"values": {}})


@router.post("/providers/register", response_class=HTMLResponse)
async def register_submit(
    request: Request, session: Session, actor: Annotated[Actor | None, Depends(public)]
) -> Response:
    form = await request.form()
    values = {name: _text(form, name) for name in REGISTRATION_FIELDS}
    try:
        result = await service.register_provider(
            session,
            actor=actor,
            registration=ProviderRegistration(
                **values, admin_password=_text(form, "admin_password")
            ),
            sign_in=_settings(request),
        )
    except AppError as exc:
        return render(
            request,
            "providers/register.html",
            {"values": values, "error": exc.sentence()},
            status_code=exc.status_code,
        )
    assert result.session_token is not None
    return signed_in_redirect(request, result.session_token, "/provider")


@router.get("/provider", response_class=HTMLResponse)
async def portal(
    request: Request, session: Session, actor: Annotated[Actor, Depends(require(P.STANDARD_VIEW))]
) -> Response:
    view = await service.portal(session, actor=actor)
    return render(request, "providers/portal.html", {"view": view})


@router.get("/provider/details", response_class=HTMLResponse)
async def details_form(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(P.PROVIDER_PROFILE_EDIT))],
) -> Response:
    provider = await service.own_provider(session, actor=actor)
    values = {name: getattr(provider, name) for name in DETAIL_FIELDS}
    return render(request, "providers/details.html", {"values": values, "provider": provider})


@router.post("/provider/details", response_class=HTMLResponse)
async def details_submit(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(P.PROVIDER_PROFILE_EDIT))],
) -> Response:
    form = await request.form()
    values = {name: _text(form, name) for name in DETAIL_FIELDS}
    try:
        await service.update_provider(session, actor=actor, details=ProviderDetailsIn(**values))
    except AppError as exc:
        return render(
            request,
            "providers/details.html",
            {"values": values, "error": exc.sentence()},
            status_code=exc.status_code,
        )
    return RedirectResponse("/provider?saved=details", status_code=303)


@router.post("/provider/applications")
async def start_application(
    session: Session,
    actor: Annotated[Actor, Depends(require(P.APPLICATION_SUBMIT))],
    municipality_id: Annotated[int, Form()],
) -> Response:
    view = await service.start_application(session, actor=actor, municipality_id=municipality_id)
    return RedirectResponse(f"/provider/applications/{view.application.id}", status_code=303)


@router.get("/provider/applications/{application_id}", response_class=HTMLResponse)
async def application_page(
    request: Request,
    session: Session,
    application_id: int,
    actor: Annotated[Actor, Depends(require(P.EVIDENCE_VIEW))],
    done: str | None = None,
) -> Response:
    view = await service.get_application(session, actor=actor, application_id=application_id)
    return render(
        request, "providers/application_form.html", {"view": view, "values": None, "done": done}
    )


def _typed_evidence(form: FormData, view: service.ApplicationView) -> dict[int, dict[str, Any]]:
    return {
        item.requirement.id or 0: {
            "attested": _text(form, f"attested_{item.requirement.id}") == "yes",
            "statement": _text(form, f"statement_{item.requirement.id}"),
            "value": _text(form, f"value_{item.requirement.id}"),
        }
        for item in view.items
    }


@router.post("/provider/applications/{application_id}", response_class=HTMLResponse)
async def application_save(
    request: Request,
    session: Session,
    application_id: int,
    actor: Annotated[Actor, Depends(require(P.APPLICATION_SUBMIT))],
) -> Response:
    form = await request.form()
    evidence: list[EvidenceIn] = []
    documents: list[service.DocumentIn] = []
    for name, value in form.multi_items():
        kind, _, raw_id = name.rpartition("_")
        if not raw_id.isdigit():
            continue
        requirement_id = int(raw_id)
        if kind == "statement":
            evidence.append(
                EvidenceIn(
                    requirement_id=requirement_id,
                    statement=_text(form, name),
                    attested=_text(form, f"attested_{raw_id}") == "yes",
                    value=_text(form, f"value_{raw_id}") or None,
                )
            )
        elif kind == "document" and isinstance(value, UploadFile) and value.filename:
            documents.append(service.DocumentIn(requirement_id, value.filename, value))
    submit = _text(form, "action") == "submit"
    try:
        await service.save_application(
            session,
            actor=actor,
            settings=_settings(request),
            application_id=application_id,
            evidence=evidence,
            documents=documents,
            submit=submit,
        )
    except AppError as exc:
        view = await service.get_application(session, actor=actor, application_id=application_id)
        return render(
            request,
            "providers/application_form.html",
            {"view": view, "values": _typed_evidence(form, view), "error": exc.sentence()},
            status_code=exc.status_code,
        )
    done = "submitted" if submit else "saved"
    return RedirectResponse(f"/provider/applications/{application_id}?done={done}", status_code=303)


@router.post("/provider/applications/{application_id}/withdraw")
async def application_withdraw(
    session: Session,
    application_id: int,
    actor: Annotated[Actor, Depends(require(P.APPLICATION_SUBMIT))],
) -> Response:
    await service.withdraw_application(session, actor=actor, application_id=application_id)
    return RedirectResponse("/provider?saved=withdrawn", status_code=303)


@router.get("/uploads/{upload_id}")
async def download(
    request: Request,
    session: Session,
    upload_id: int,
    actor: Annotated[Actor, Depends(require(P.EVIDENCE_VIEW))],
) -> Response:
    document = await service.read_document(
        session, actor=actor, settings=_settings(request), upload_id=upload_id
    )
    upload = document.upload
    ascii_name = upload.original_filename.encode("ascii", "replace").decode().replace('"', "")
    return Response(
        content=document.content,
        media_type=upload.content_type,
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''"
                f"{quote(upload.original_filename)}"
            ),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
            "Cache-Control": "private, no-store",
        },
    )


# quality standards


@router.get("/standards", response_class=HTMLResponse)
async def standards(
    request: Request, session: Session, actor: Annotated[Actor, Depends(require(P.STANDARD_EDIT))]
) -> Response:
    versions = await service.list_standards(session, actor=actor)
    return render(request, "providers/standards.html", {"versions": versions, "values": {}})


@router.post("/standards", response_class=HTMLResponse)
async def standard_create(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(P.STANDARD_EDIT))],
    service_name: Annotated[str, Form(alias="service")] = "",
    title: Annotated[str, Form()] = "",
) -> Response:
    try:
        created = await service.create_standard(
            session, actor=actor, data=StandardCreate(service=service_name, title=title)
        )
    except AppError as exc:
        versions = await service.list_standards(session, actor=actor)
        return render(
            request,
            "providers/standards.html",
            {
                "versions": versions,
                "values": {"service": service_name, "title": title},
                "error": exc.sentence(),
            },
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/standards/{created.standard.id}", status_code=303)


def _requirement_values(form: FormData) -> dict[str, Any]:
    return {
        "key": _text(form, "key"),
        "title": _text(form, "title"),
        "description": _text(form, "description"),
        "kind": _text(form, "kind"),
        "mandatory": _text(form, "mandatory") == "yes",
        "unit": _text(form, "unit") or None,
        "min_value": _text(form, "min_value") or None,
        "max_value": _text(form, "max_value") or None,
    }


@router.get("/standards/{standard_id}", response_class=HTMLResponse)
async def standard_page(
    request: Request,
    session: Session,
    standard_id: int,
    actor: Annotated[Actor, Depends(require(P.STANDARD_VIEW))],
) -> Response:
    view = await service.get_standard(session, actor=actor, standard_id=standard_id)
    return render(request, "providers/standard.html", {"view": view, "values": {}})


async def _standard_error(
    request: Request, session: Session, actor: Actor, standard_id: int, exc: AppError, **ctx: Any
) -> Response:
    view = await service.get_standard(session, actor=actor, standard_id=standard_id)
    return render(
        request,
        "providers/standard.html",
        {"view": view, "values": {}, "error": exc.sentence(), **ctx},
        status_code=exc.status_code,
    )


@router.post("/standards/{standard_id}/requirements", response_class=HTMLResponse)
async def requirement_add(
    request: Request,
    session: Session,
    standard_id: int,
    actor: Annotated[Actor, Depends(require(P.STANDARD_EDIT))],
) -> Response:
    values = _requirement_values(await request.form())
    try:
        await service.add_requirement(
            session, actor=actor, standard_id=standard_id, data=_build(RequirementIn, values)
        )
    except AppError as exc:
        return await _standard_error(request, session, actor, standard_id, exc, values=values)
    return RedirectResponse(f"/standards/{standard_id}#requirements", status_code=303)


@router.get("/standards/{standard_id}/requirements/{requirement_id}", response_class=HTMLResponse)
async def requirement_edit_form(
    request: Request,
    session: Session,
    standard_id: int,
    requirement_id: int,
    actor: Annotated[Actor, Depends(require(P.STANDARD_EDIT))],
) -> Response:
    view = await service.get_standard(session, actor=actor, standard_id=standard_id)
    requirement = next((r for r in view.requirements if r.id == requirement_id), None)
    if requirement is None:
        raise RequirementNotFound()
    values = requirement.model_dump()
    return render(request, "providers/requirement_edit.html", {"view": view, "values": values})


@router.post("/standards/{standard_id}/requirements/{requirement_id}", response_class=HTMLResponse)
async def requirement_update(
    request: Request,
    session: Session,
    standard_id: int,
    requirement_id: int,
    actor: Annotated[Actor, Depends(require(P.STANDARD_EDIT))],
) -> Response:
    values = _requirement_values(await request.form())
    try:
        await service.update_requirement(
            session,
            actor=actor,
            standard_id=standard_id,
            requirement_id=requirement_id,
            data=_build(RequirementIn, values),
        )
    except AppError as exc:
        view = await service.get_standard(session, actor=actor, standard_id=standard_id)
        return render(
            request,
            "providers/requirement_edit.html",
            {"view": view, "values": {**values, "id": requirement_id}, "error": exc.sentence()},
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/standards/{standard_id}#requirements", status_code=303)


@router.post("/standards/{standard_id}/requirements/{requirement_id}/delete")
async def requirement_remove(
    session: Session,
    standard_id: int,
    requirement_id: int,
    actor: Annotated[Actor, Depends(require(P.STANDARD_EDIT))],
) -> Response:
    await service.remove_requirement(
        session, actor=actor, standard_id=standard_id, requirement_id=requirement_id
    )
    return RedirectResponse(f"/standards/{standard_id}#requirements", status_code=303)


@router.post("/standards/{standard_id}/publish", response_class=HTMLResponse)
async def standard_publish(
    request: Request,
    session: Session,
    standard_id: int,
    actor: Annotated[Actor, Depends(require(P.STANDARD_EDIT))],
    reapply_by: Annotated[str, Form()] = "",
) -> Response:
    try:
        await service.publish_standard(
            session,
            actor=actor,
            standard_id=standard_id,
            reapply_by=_optional_date(reapply_by),
        )
    except AppError as exc:
        return await _standard_error(
            request, session, actor, standard_id, exc, reapply_by=reapply_by
        )
    return RedirectResponse(f"/standards/{standard_id}?done=published", status_code=303)


# review


@router.get("/applications", response_class=HTMLResponse)
async def review_queue(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(P.APPLICATION_REVIEW))],
) -> Response:
    queue = await service.review_queue(session, actor=actor)
    return render(request, "providers/queue.html", {"queue": queue})


async def _review_page(
    request: Request,
    session: Session,
    actor: Actor,
    application_id: int,
    status_code: int = 200,
    **ctx: Any,
) -> Response:
    view = await service.get_application(session, actor=actor, application_id=application_id)
    context = {"view": view, "approve_values": {}, "reject_reason": "", **ctx}
    return render(request, "providers/review.html", context, status_code=status_code)


@router.get("/applications/{application_id}", response_class=HTMLResponse)
async def review_page(
    request: Request,
    session: Session,
    application_id: int,
    actor: Annotated[Actor, Depends(require(P.EVIDENCE_VIEW))],
    done: str | None = None,
) -> Response:
    return await _review_page(request, session, actor, application_id, done=done)


@router.post("/applications/{application_id}/decisions", response_class=HTMLResponse)
async def review_decisions(
    request: Request,
    session: Session,
    application_id: int,
    actor: Annotated[Actor, Depends(require(P.APPLICATION_REVIEW))],
) -> Response:
    form = await request.form()
    decisions = []
    for name in form:
        prefix, _, raw_id = name.rpartition("_")
        choice = _text(form, name)
        if prefix == "decision" and raw_id.isdigit() and choice in ("met", "not_met"):
            decisions.append(
                DecisionIn(
                    requirement_id=int(raw_id),
                    met=choice == "met",
                    comment=_text(form, f"comment_{raw_id}"),
                )
            )
    try:
        await service.record_decisions(
            session, actor=actor, application_id=application_id, decisions=decisions
        )
    except AppError as exc:
        return await _review_page(
            request,
            session,
            actor,
            application_id,
            status_code=exc.status_code,
            decisions_error=exc.sentence(),
        )
    return RedirectResponse(
        f"/applications/{application_id}?done=decisions#approve", status_code=303
    )


@router.post("/applications/{application_id}/approve", response_class=HTMLResponse)
async def review_approve(
    request: Request,
    session: Session,
    application_id: int,
    actor: Annotated[Actor, Depends(require(P.APPLICATION_REVIEW))],
) -> Response:
    form = await request.form()
    values = {
        name: _text(form, name)
        for name in ("valid_from", "valid_to", "service_area", "daily_capacity", "unit_price")
    }
    try:
        await service.approve_application(
            session, actor=actor, application_id=application_id, terms=_build(ApprovalIn, values)
        )
    except AppError as exc:
        return await _review_page(
            request,
            session,
            actor,
            application_id,
            status_code=exc.status_code,
            approve_error=exc.sentence(),
            approve_values=values,
        )
    return RedirectResponse(f"/applications/{application_id}?done=approved", status_code=303)


@router.post("/applications/{application_id}/reject", response_class=HTMLResponse)
async def review_reject(
    request: Request,
    session: Session,
    application_id: int,
    actor: Annotated[Actor, Depends(require(P.APPLICATION_REVIEW))],
    reason: Annotated[str, Form()] = "",
) -> Response:
    try:
        await service.reject_application(
            session, actor=actor, application_id=application_id, reason=reason
        )
    except AppError as exc:
        return await _review_page(
            request,
            session,
            actor,
            application_id,
            status_code=exc.status_code,
            reject_error=exc.sentence(),
            reject_reason=reason,
        )
    return RedirectResponse(f"/applications/{application_id}?done=rejected", status_code=303)


# provider list and approvals


@router.get("/providers", response_class=HTMLResponse)
async def directory(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(P.PROVIDER_DIRECTORY_VIEW))],
) -> Response:
    rows = await service.provider_directory(session, actor=actor)
    return render(request, "providers/directory.html", {"rows": rows})


@router.get("/providers/{provider_id}", response_class=HTMLResponse)
async def provider_page(
    request: Request,
    session: Session,
    provider_id: int,
    actor: Annotated[Actor, Depends(require(P.PROVIDER_DIRECTORY_VIEW))],
    done: str | None = None,
) -> Response:
    row = await service.provider_detail(session, actor=actor, provider_id=provider_id)
    return render(request, "providers/provider.html", {"row": row, "done": done})


_MOVES = {
    "suspend": (service.suspend_approval, ApprovalStatus.SUSPENDED),
    "reinstate": (service.reinstate_approval, ApprovalStatus.ACTIVE),
    "revoke": (service.revoke_approval, ApprovalStatus.REVOKED),
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
        row = await service.provider_detail(session, actor=actor, provider_id=provider_id)
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


# --- contract terms, versioned (admin, on the approval) ----------------------

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
    valid_from = _optional_date(values["valid_from"])
    if valid_from is None:
        raise InvalidInput(N_("Give the day the new terms start."))
    parsed: dict[str, Any] = {
        "valid_from": valid_from,
        "unit_price_ore": service.parse_unit_price(values["unit_price"]),
        "note": values["note"],
        "vat_category": values["vat_category"] or "E",
        "vat_rate_bp": service.parse_percent_bp(values["vat_rate"].strip() or "0"),
        "vat_exemption_reason": values["vat_exemption_reason"],
    }
    for name in ("min_units_per_month", "rebate_threshold_units"):
        text = values[name].strip()
        if not text and name in _OPTIONAL_TERMS:
            parsed[name] = None
            continue
        parsed[name] = _whole_number(text or "0", FIELD_LABELS[name])
    for form_name, bp_name in _PERCENT_FIELDS.items():
        text = values[form_name].strip()
        if not text and form_name in _OPTIONAL_TERMS:
            parsed[bp_name] = None
            continue
        parsed[bp_name] = service.parse_percent_bp(text or "0")
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
    history = await service.contract_terms_history(session, actor=actor, approval_id=approval_id)
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
    values = {name: _text(form, name) for name in TERMS_FORM_FIELDS}
    try:
        await service.add_contract_terms(
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


# --- offers (menus) and how the provider takes orders ---------------------------
# The provider's administrator keeps the menu: name, description, a photo
# (re-encoded by market.images; anything but a real JPEG, PNG or WebP is
# refused with 415, too large with 413, and nothing is stored), diet forms,
# allergens, weekdays, capacity. Photos are shown to anyone signed in.

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
        "name": _text(form, "name"),
        "description": _text(form, "description"),
        "diet_forms": [v for v in form.getlist("diet_forms") if isinstance(v, str)],
        "allergens": [v for v in form.getlist("allergens") if isinstance(v, str)],
        "weekdays": [v for v in form.getlist("weekdays") if isinstance(v, str)],
        "daily_capacity": _text(form, "daily_capacity").strip(),
        "active": _text(form, "active") == "yes",
    }


def _whole_number(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError as exc:
        raise InvalidInput(N_("Please give a whole number: {what}."), what=gettext(what)) from exc


async def _photo_bytes(form: FormData, limit: int) -> bytes | None:
    upload = form.get("photo")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    return await upload.read(limit + 1)  # one byte over the limit is enough to refuse


async def _save_offer_form(
    request: Request, session: Session, actor: Actor, offer_id: int | None
) -> Response:
    settings = _settings(request)
    form = await request.form()
    values = _offer_values(form)
    try:
        capacity = values["daily_capacity"]
        await service.save_offer(
            session,
            actor=actor,
            settings=settings,
            offer_id=offer_id,
            name=values["name"],
            description=values["description"],
            diet_forms=values["diet_forms"],
            allergens=values["allergens"],
            weekdays=[_whole_number(d, N_("weekday")) for d in values["weekdays"]],
            daily_capacity=_whole_number(capacity, N_("Daily capacity")) if capacity else None,
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
    offers = await service.offers_of_own_provider(session, actor=actor)
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
    offer = await service.own_offer(session, actor=actor, offer_id=offer_id)
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
    path = await service.get_offer_photo(
        session, settings=_settings(request), offer_id=offer_id, thumbnail=thumbnail
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
    profile = await service.own_ordering_profile(session, actor=actor)
    return render(
        request,
        "providers/ordering_profile.html",
        {
            "values": _profile_values(profile),
            "secret": profile.webhook_secret,
            "previous_until": profile.webhook_previous_secret_until
            if len(profile.signing_secrets(utcnow())) > 1
            else None,
            "grace_hours": _settings(request).webhook_secret_grace_hours,
            "done": done,
        },
    )


@router.post("/provider/ordering/webhook-secret", response_class=HTMLResponse)
async def webhook_secret_rotate(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(P.PROVIDER_PROFILE_EDIT))],
) -> Response:
    await service.rotate_webhook_secret(session, actor=actor, settings=_settings(request))
    return RedirectResponse("/provider/ordering?done=rotated", status_code=303)


@router.post("/provider/ordering", response_class=HTMLResponse)
async def ordering_profile_save(request: Request, session: Session, actor: OfferAdmin) -> Response:
    form = await request.form()
    values: dict[str, Any] = {name: _text(form, name) for name in PROFILE_FIELDS}
    values["auto_accept"] = _text(form, "auto_accept") == "yes"
    try:
        await service.save_ordering_profile(
            session,
            actor=actor,
            cutoff_days_before=_whole_number(values["cutoff_days_before"], N_("Days before")),
            cutoff_time=_clock(values["cutoff_time"], N_("Cut-off time")),
            window_start=_clock(values["window_start"], N_("Delivery from")),
            window_end=_clock(values["window_end"], N_("Delivery until")),
            accept_within_hours=_whole_number(values["accept_within_hours"], N_("Accept within")),
            auto_accept=values["auto_accept"],
            webhook_url=values["webhook_url"],
            settings=_settings(request),
        )
    except AppError as exc:
        return render(
            request,
            "providers/ordering_profile.html",
            {"values": values, "secret": None, "error": exc.sentence()},
            status_code=exc.status_code,
        )
    return RedirectResponse("/provider/ordering?done=saved", status_code=303)
