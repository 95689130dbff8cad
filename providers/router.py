"""JSON API of the providers domain under /api/v1. Errors come back as
{"error": code, "detail": sentence} through the shell's handlers."""

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response

from market.auth.dependencies import Session, public, require
from market.auth.permissions import Actor, Permission
from market.errors import N_, InvalidInput
from providers.applications import documents
from providers.applications import service as applications_service
from providers.approvals import service as approvals_service
from providers.models import EvidenceUpload
from providers.offers import service as offers_service
from providers.registry import service as registry_service
from providers.schemas import (
    ApplicationCreate,
    ApplicationOut,
    ApplicationSummary,
    ApprovalIn,
    ApprovalOut,
    ContractTermsHistoryOut,
    ContractTermsIn,
    ContractTermsOut,
    DecisionsIn,
    DirectoryEntry,
    EvidenceOut,
    EvidenceSave,
    ProviderDetailsIn,
    ProviderOut,
    ProviderRegistration,
    PublishIn,
    ReasonIn,
    RegistrationOut,
    RequirementIn,
    RequirementOut,
    ReviewOut,
    StandardCreate,
    StandardOut,
    StandardSummary,
    UploadOut,
    WebhookSecretOut,
)
from providers.standards import service as standards_service

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


def _approval_out(view: approvals_service.ApprovalView) -> ApprovalOut:
    a = view.approval
    assert a.id is not None
    return ApprovalOut(
        id=a.id,
        provider_id=a.provider_id,
        provider_name=view.provider.name,
        municipality_id=a.municipality_id,
        service=a.service,
        status=a.status,
        effective_status=view.effective_status.value,
        valid_from=a.valid_from,
        valid_to=a.valid_to,
        service_area=view.postal_codes,
        daily_capacity=a.daily_capacity,
        unit_price_ore=view.terms.unit_price_ore if view.terms else None,
        reapply_by=a.reapply_by,
        status_reason=a.status_reason,
    )


def _standard_out(view: standards_service.StandardView) -> StandardOut:
    return StandardOut(
        **StandardSummary.model_validate(view.standard).model_dump(),
        requirements=[RequirementOut.model_validate(r) for r in view.requirements],
    )


def _directory_entry(row: registry_service.DirectoryRow) -> DirectoryEntry:
    return DirectoryEntry(
        provider=ProviderOut.model_validate(row.provider),
        approvals=[_approval_out(v) for v in row.approvals],
        application_statuses=[a.status for a in row.applications],
    )


# providers


@router.post("/providers", response_model=RegistrationOut, status_code=201)
async def register_provider(
    session: Session,
    actor: Annotated[Actor | None, Depends(public)],
    body: ProviderRegistration,
) -> RegistrationOut:
    """Registers a provider and its first administrator (who then signs in)."""
    result = await registry_service.register_provider(session, actor=actor, registration=body)
    assert result.admin.id is not None
    return RegistrationOut(
        provider=ProviderOut.model_validate(result.provider), admin_user_id=result.admin.id
    )


@router.get("/providers", response_model=list[DirectoryEntry])
async def list_providers(
    session: Session, actor: Annotated[Actor, Depends(require(P.PROVIDER_DIRECTORY_VIEW))]
) -> list[DirectoryEntry]:
    """Providers with an approval or application in the caller's municipality."""
    return [
        _directory_entry(r) for r in await registry_service.provider_directory(session, actor=actor)
    ]


@router.get("/providers/me", response_model=ProviderOut)
async def get_own_provider(
    session: Session, actor: Annotated[Actor, Depends(require(P.STANDARD_VIEW))]
) -> ProviderOut:
    return ProviderOut.model_validate(await registry_service.own_provider(session, actor=actor))


@router.put("/providers/me", response_model=ProviderOut)
async def update_own_provider(
    session: Session,
    actor: Annotated[Actor, Depends(require(P.PROVIDER_PROFILE_EDIT))],
    body: ProviderDetailsIn,
) -> ProviderOut:
    provider = await registry_service.update_provider(session, actor=actor, details=body)
    return ProviderOut.model_validate(provider)


@router.get("/providers/{provider_id}", response_model=DirectoryEntry)
async def get_provider(
    session: Session,
    provider_id: int,
    actor: Annotated[Actor, Depends(require(P.PROVIDER_DIRECTORY_VIEW))],
) -> DirectoryEntry:
    row = await registry_service.provider_detail(session, actor=actor, provider_id=provider_id)
    return _directory_entry(row)


# quality standards


@router.get("/standards", response_model=list[StandardSummary])
async def list_standards(
    session: Session, actor: Annotated[Actor, Depends(require(P.STANDARD_EDIT))]
) -> list[StandardSummary]:
    """Every version of the caller's municipality's standards, newest first per service."""
    standards = await standards_service.list_standards(session, actor=actor)
    return [StandardSummary.model_validate(s) for s in standards]


@router.post("/standards", response_model=StandardOut, status_code=201)
async def create_standard(
    session: Session,
    actor: Annotated[Actor, Depends(require(P.STANDARD_EDIT))],
    body: StandardCreate,
) -> StandardOut:
    """A new draft version, starting as a copy of the published version's requirements."""
    return _standard_out(await standards_service.create_standard(session, actor=actor, data=body))


@router.get("/standards/{standard_id}", response_model=StandardOut)
async def get_standard(
    session: Session,
    standard_id: int,
    actor: Annotated[Actor, Depends(require(P.STANDARD_VIEW))],
) -> StandardOut:
    view = await standards_service.get_standard(session, actor=actor, standard_id=standard_id)
    return _standard_out(view)


@router.post(
    "/standards/{standard_id}/requirements", response_model=RequirementOut, status_code=201
)
async def add_requirement(
    session: Session,
    standard_id: int,
    actor: Annotated[Actor, Depends(require(P.STANDARD_EDIT))],
    body: RequirementIn,
) -> RequirementOut:
    requirement = await standards_service.add_requirement(
        session, actor=actor, standard_id=standard_id, data=body
    )
    return RequirementOut.model_validate(requirement)


@router.put("/standards/{standard_id}/requirements/{requirement_id}", response_model=RequirementOut)
async def update_requirement(
    session: Session,
    standard_id: int,
    requirement_id: int,
    actor: Annotated[Actor, Depends(require(P.STANDARD_EDIT))],
    body: RequirementIn,
) -> RequirementOut:
    requirement = await standards_service.update_requirement(
        session, actor=actor, standard_id=standard_id, requirement_id=requirement_id, data=body
    )
    return RequirementOut.model_validate(requirement)


@router.delete(
    "/standards/{standard_id}/requirements/{requirement_id}",
    status_code=204,
    response_class=Response,
)
async def remove_requirement(
    session: Session,
    standard_id: int,
    requirement_id: int,
    actor: Annotated[Actor, Depends(require(P.STANDARD_EDIT))],
) -> Response:
    await standards_service.remove_requirement(
        session, actor=actor, standard_id=standard_id, requirement_id=requirement_id
    )
    return Response(status_code=204)


@router.post("/standards/{standard_id}/publish", response_model=StandardOut)
async def publish_standard(
    session: Session,
    standard_id: int,
    actor: Annotated[Actor, Depends(require(P.STANDARD_EDIT))],
    body: PublishIn,
) -> StandardOut:
    """Publishes a draft; a version that supersedes another needs reapply_by."""
    view = await standards_service.publish_standard(
        session, actor=actor, standard_id=standard_id, reapply_by=body.reapply_by
    )
    return _standard_out(view)


# applications


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
    return _approval_out(view)


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


# approvals


@router.get("/approvals", response_model=list[ApprovalOut])
async def list_approvals(
    session: Session, actor: Annotated[Actor, Depends(require(P.STANDARD_VIEW))]
) -> list[ApprovalOut]:
    """The provider's own approvals, or every approval of the caller's municipality."""
    return [_approval_out(v) for v in await approvals_service.list_approvals(session, actor=actor)]


@router.post("/approvals/{approval_id}/suspend", response_model=ApprovalOut)
async def suspend_approval(
    session: Session,
    approval_id: int,
    actor: Annotated[Actor, Depends(require(P.APPROVAL_MANAGE))],
    body: ReasonIn,
) -> ApprovalOut:
    view = await approvals_service.suspend_approval(
        session, actor=actor, approval_id=approval_id, reason=body.reason
    )
    return _approval_out(view)


@router.post("/approvals/{approval_id}/reinstate", response_model=ApprovalOut)
async def reinstate_approval(
    session: Session,
    approval_id: int,
    actor: Annotated[Actor, Depends(require(P.APPROVAL_MANAGE))],
    body: ReasonIn,
) -> ApprovalOut:
    view = await approvals_service.reinstate_approval(
        session, actor=actor, approval_id=approval_id, reason=body.reason
    )
    return _approval_out(view)


@router.post("/approvals/{approval_id}/revoke", response_model=ApprovalOut)
async def revoke_approval(
    session: Session,
    approval_id: int,
    actor: Annotated[Actor, Depends(require(P.APPROVAL_MANAGE))],
    body: ReasonIn,
) -> ApprovalOut:
    view = await approvals_service.revoke_approval(
        session, actor=actor, approval_id=approval_id, reason=body.reason
    )
    return _approval_out(view)


# contract terms, versioned

TermsAdmin = Annotated[Actor, Depends(require(P.CONTRACT_TERMS_MANAGE))]


@router.get("/approvals/{approval_id}/terms", response_model=ContractTermsHistoryOut)
async def contract_terms(
    session: Session, approval_id: int, actor: TermsAdmin
) -> ContractTermsHistoryOut:
    """Every version of the approval's contract terms, oldest first."""
    history = await approvals_service.contract_terms_history(
        session, actor=actor, approval_id=approval_id
    )
    return ContractTermsHistoryOut(
        approval_id=approval_id,
        in_force_version=history.in_force.version if history.in_force else None,
        versions=[ContractTermsOut.model_validate(t) for t in history.versions],
    )


@router.post("/approvals/{approval_id}/terms", response_model=ContractTermsOut, status_code=201)
async def add_contract_terms(
    session: Session, approval_id: int, actor: TermsAdmin, body: ContractTermsIn
) -> ContractTermsOut:
    """Adds the next version; it starts on the first of a month after the latest."""
    terms = await approvals_service.add_contract_terms(
        session, actor=actor, approval_id=approval_id, **body.model_dump()
    )
    return ContractTermsOut.model_validate(terms)


# the webhook signing secret


@router.post("/provider/webhook-secret/rotate", response_model=WebhookSecretOut)
async def rotate_webhook_secret(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(P.PROVIDER_PROFILE_EDIT))],
) -> WebhookSecretOut:
    """A new signing secret; the previous one keeps signing for the grace period."""
    profile = await offers_service.rotate_webhook_secret(
        session, actor=actor, settings=request.app.state.settings
    )
    assert profile.webhook_secret is not None
    return WebhookSecretOut(
        secret=profile.webhook_secret, previous_signs_until=profile.webhook_previous_secret_until
    )
