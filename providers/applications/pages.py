"""HTML pages of applications: the provider's draft with evidence and
documents, and the municipality's review queue and review (decisions,
approve, reject). Form errors re-render the form with a 4xx status."""

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from market.auth.dependencies import Session, require
from market.auth.permissions import Actor
from market.errors import AppError
from market.templating import render
from providers.applications import documents as uploads
from providers.applications import service as applications_service
from providers.approvals import service as approvals_service
from providers.forms import (
    P,
    build,
    settings_of,
    text_field,
)
from providers.schemas import (
    ApprovalIn,
    DecisionIn,
    EvidenceIn,
)

router = APIRouter(include_in_schema=False)


@router.post("/provider/applications")
async def start_application(
    session: Session,
    actor: Annotated[Actor, Depends(require(P.APPLICATION_SUBMIT))],
    municipality_id: Annotated[int, Form()],
) -> Response:
    view = await applications_service.start_application(
        session, actor=actor, municipality_id=municipality_id
    )
    return RedirectResponse(f"/provider/applications/{view.application.id}", status_code=303)


@router.get("/provider/applications/{application_id}", response_class=HTMLResponse)
async def application_page(
    request: Request,
    session: Session,
    application_id: int,
    actor: Annotated[Actor, Depends(require(P.EVIDENCE_VIEW))],
    done: str | None = None,
) -> Response:
    view = await applications_service.get_application(
        session, actor=actor, application_id=application_id
    )
    return render(
        request, "providers/application_form.html", {"view": view, "values": None, "done": done}
    )


def _typed_evidence(
    form: FormData, view: applications_service.ApplicationView
) -> dict[int, dict[str, Any]]:
    return {
        item.requirement.id or 0: {
            "attested": text_field(form, f"attested_{item.requirement.id}") == "yes",
            "statement": text_field(form, f"statement_{item.requirement.id}"),
            "value": text_field(form, f"value_{item.requirement.id}"),
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
    documents: list[uploads.DocumentIn] = []
    for name, value in form.multi_items():
        kind, _, raw_id = name.rpartition("_")
        if not raw_id.isdigit():
            continue
        requirement_id = int(raw_id)
        if kind == "statement":
            evidence.append(
                EvidenceIn(
                    requirement_id=requirement_id,
                    statement=text_field(form, name),
                    attested=text_field(form, f"attested_{raw_id}") == "yes",
                    value=text_field(form, f"value_{raw_id}") or None,
                )
            )
        elif kind == "document" and isinstance(value, UploadFile) and value.filename:
            documents.append(uploads.DocumentIn(requirement_id, value.filename, value))
    submit = text_field(form, "action") == "submit"
    try:
        await applications_service.save_application(
            session,
            actor=actor,
            settings=settings_of(request),
            application_id=application_id,
            evidence=evidence,
            documents=documents,
            submit=submit,
        )
    except AppError as exc:
        view = await applications_service.get_application(
            session, actor=actor, application_id=application_id
        )
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
    await applications_service.withdraw_application(
        session, actor=actor, application_id=application_id
    )
    return RedirectResponse("/provider?saved=withdrawn", status_code=303)


@router.get("/uploads/{upload_id}")
async def download(
    request: Request,
    session: Session,
    upload_id: int,
    actor: Annotated[Actor, Depends(require(P.EVIDENCE_VIEW))],
) -> Response:
    document = await uploads.read_document(
        session, actor=actor, settings=settings_of(request), upload_id=upload_id
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


@router.get("/applications", response_class=HTMLResponse)
async def review_queue(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(P.APPLICATION_REVIEW))],
) -> Response:
    queue = await applications_service.review_queue(session, actor=actor)
    return render(request, "providers/queue.html", {"queue": queue})


async def _review_page(
    request: Request,
    session: Session,
    actor: Actor,
    application_id: int,
    status_code: int = 200,
    **ctx: Any,
) -> Response:
    view = await applications_service.get_application(
        session, actor=actor, application_id=application_id
    )
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
        choice = text_field(form, name)
        if prefix == "decision" and raw_id.isdigit() and choice in ("met", "not_met"):
            decisions.append(
                DecisionIn(
                    requirement_id=int(raw_id),
                    met=choice == "met",
                    comment=text_field(form, f"comment_{raw_id}"),
                )
            )
    try:
        await applications_service.record_decisions(
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
        name: text_field(form, name)
        for name in ("valid_from", "valid_to", "service_area", "daily_capacity", "unit_price")
    }
    try:
        await approvals_service.approve_application(
            session, actor=actor, application_id=application_id, terms=build(ApprovalIn, values)
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
        await applications_service.reject_application(
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
