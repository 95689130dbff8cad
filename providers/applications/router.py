"""JSON API of applications: evidence, documents, submitting,
withdrawing, and the review (decisions, approve, reject)."""

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile

from market.auth.dependencies import Session, require
from market.auth.permissions import Actor, Permission
from market.errors import N_, InvalidInput
from providers.applications import documents
from providers.applications import service as applications_service
from providers.approvals import service as approvals_service
from providers.approvals.router import approval_out
from providers.models import EvidenceUpload
from providers.schemas import (
    ApplicationCreate,
    ApplicationOut,
    ApplicationSummary,
    ApprovalIn,
    ApprovalOut,
    DecisionsIn,
    EvidenceOut,
    EvidenceSave,
    ReasonIn,
    ReviewOut,
    UploadOut,
)

router = APIRouter(prefix="/api/v1", tags=["providers"])
P = Permission


def _upload_out(upload: EvidenceUpload) -> UploadOut:
    return UploadOut.model_validate(
        {**upload.model_dump(), "url": f"/uploads/{upload.id}"}, from_attributes=False
    )


def _application_out(view: applications_service.ApplicationView) -> ApplicationOut:
    a = view.application
    assert a.id is not None and view.provider.id is not None
    return ApplicationOut(
        id=a.id,
        provider_id=a.provider_id,
        provider_name=view.provider.name,
        municipality_id=a.municipality_id,
        standard_id=a.standard_id,
        status=a.status,
        created_at=a.created_at,
        submitted_at=a.submitted_at,
        decided_at=a.decided_at,
        rejection_reason=a.rejection_reason,
        evidence=[
            EvidenceOut(
                requirement_id=item.requirement.id or 0,
                attested=item.evidence.attested,
                statement=item.evidence.statement,
                value=item.evidence.numeric_value,
                meets_threshold=item.meets_threshold,
            )
            for item in view.items
            if item.evidence is not None
        ],
        uploads=[_upload_out(u) for item in view.items for u in item.uploads],
        reviews=[
            ReviewOut(
                requirement_id=item.review.requirement_id,
                met=item.review.met,
                comment=item.review.comment,
            )
            for item in view.items
            if item.review is not None
        ],
    )


@router.get("/applications", response_model=list[ApplicationSummary])
async def list_applications(
    session: Session, actor: Annotated[Actor, Depends(require(P.EVIDENCE_VIEW))]
) -> list[ApplicationSummary]:
    """A provider's own applications, or the municipality's submitted ones, oldest first."""
    entries = await applications_service.list_applications(session, actor=actor)
    return [
        ApplicationSummary(
            id=e.application.id or 0,
            provider_id=e.application.provider_id,
            provider_name=e.provider.name,
            municipality_id=e.application.municipality_id,
            status=e.application.status,
            submitted_at=e.application.submitted_at,
        )
        for e in entries
    ]


@router.post("/applications", response_model=ApplicationOut, status_code=201)
async def start_application(
    session: Session,
    actor: Annotated[Actor, Depends(require(P.APPLICATION_SUBMIT))],
    body: ApplicationCreate,
) -> ApplicationOut:
    """Starts a draft against the municipality's current published standard."""
    view = await applications_service.start_application(
        session, actor=actor, municipality_id=body.municipality_id, service=body.service
    )
    return _application_out(view)


@router.get("/applications/{application_id}", response_model=ApplicationOut)
async def get_application(
    session: Session,
    application_id: int,
    actor: Annotated[Actor, Depends(require(P.EVIDENCE_VIEW))],
) -> ApplicationOut:
    view = await applications_service.get_application(
        session, actor=actor, application_id=application_id
    )
    return _application_out(view)


@router.put("/applications/{application_id}/evidence", response_model=ApplicationOut)
async def save_evidence(
    request: Request,
    session: Session,
    application_id: int,
    actor: Annotated[Actor, Depends(require(P.APPLICATION_SUBMIT))],
    body: EvidenceSave,
) -> ApplicationOut:
    view = await applications_service.save_application(
        session,
        actor=actor,
        settings=request.app.state.settings,
        application_id=application_id,
        evidence=body.evidence,
    )
    return _application_out(view)


@router.post("/applications/{application_id}/uploads", response_model=UploadOut, status_code=201)
async def upload_document(
    request: Request,
    session: Session,
    application_id: int,
    actor: Annotated[Actor, Depends(require(P.APPLICATION_SUBMIT))],
    requirement_id: Annotated[int, Form(description="The requirement the document is for")],
    file: Annotated[UploadFile, File(description="PDF, PNG, JPEG or WebP; type is sniffed")],
) -> UploadOut:
    view = await applications_service.save_application(
        session,
        actor=actor,
        settings=request.app.state.settings,
        application_id=application_id,
        documents=[documents.DocumentIn(requirement_id, file.filename or "document", file)],
    )
    if not view.new_uploads:
        raise InvalidInput(N_("No file was received."))
    return _upload_out(view.new_uploads[0])


@router.post("/applications/{application_id}/submit", response_model=ApplicationOut)
async def submit_application(
    request: Request,
    session: Session,
    application_id: int,
    actor: Annotated[Actor, Depends(require(P.APPLICATION_SUBMIT))],
) -> ApplicationOut:
    """Sends the draft for review; refused while a mandatory requirement is not met."""
    view = await applications_service.save_application(
        session,
        actor=actor,
        settings=request.app.state.settings,
        application_id=application_id,
        submit=True,
    )
    return _application_out(view)


@router.post("/applications/{application_id}/withdraw", response_model=ApplicationOut)
async def withdraw_application(
    session: Session,
    application_id: int,
    actor: Annotated[Actor, Depends(require(P.APPLICATION_SUBMIT))],
) -> ApplicationOut:
    view = await applications_service.withdraw_application(
        session, actor=actor, application_id=application_id
    )
    return _application_out(view)


@router.put("/applications/{application_id}/decisions", response_model=ApplicationOut)
async def record_decisions(
    session: Session,
    application_id: int,
    actor: Annotated[Actor, Depends(require(P.APPLICATION_REVIEW))],
    body: DecisionsIn,
) -> ApplicationOut:
    """Met / not met per requirement; a later decision replaces an earlier one."""
    view = await applications_service.record_decisions(
        session, actor=actor, application_id=application_id, decisions=body.decisions
    )
    return _application_out(view)


@router.post("/applications/{application_id}/approve", response_model=ApprovalOut, status_code=201)
async def approve_application(
    session: Session,
    application_id: int,
    actor: Annotated[Actor, Depends(require(P.APPLICATION_REVIEW))],
    body: ApprovalIn,
) -> ApprovalOut:
    """Approves when every mandatory requirement is decided met; sets the first contract terms."""
    view = await approvals_service.approve_application(
        session, actor=actor, application_id=application_id, terms=body
    )
    return approval_out(view)


@router.post("/applications/{application_id}/reject", response_model=ApplicationOut)
async def reject_application(
    session: Session,
    application_id: int,
    actor: Annotated[Actor, Depends(require(P.APPLICATION_REVIEW))],
    body: ReasonIn,
) -> ApplicationOut:
    view = await applications_service.reject_application(
        session, actor=actor, application_id=application_id, reason=body.reason
    )
    return _application_out(view)
