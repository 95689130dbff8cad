"""JSON API of approvals: listing, suspending, reinstating, revoking, and
the versioned contract terms."""

from typing import Annotated

from fastapi import APIRouter, Depends

from market.auth.dependencies import Session, require
from market.auth.permissions import Actor, Permission
from providers.approvals import service as approvals_service
from providers.schemas import (
    ApprovalOut,
    ContractTermsHistoryOut,
    ContractTermsIn,
    ContractTermsOut,
    ReasonIn,
)

router = APIRouter(prefix="/api/v1", tags=["providers"])
P = Permission


def approval_out(view: approvals_service.ApprovalView) -> ApprovalOut:
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


@router.get("/approvals", response_model=list[ApprovalOut])
async def list_approvals(
    session: Session, actor: Annotated[Actor, Depends(require(P.STANDARD_VIEW))]
) -> list[ApprovalOut]:
    """The provider's own approvals, or every approval of the caller's municipality."""
    return [approval_out(v) for v in await approvals_service.list_approvals(session, actor=actor)]


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
    return approval_out(view)


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
    return approval_out(view)


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
    return approval_out(view)


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
