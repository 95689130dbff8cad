"""JSON API of quality standards and their requirements."""

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from market.auth.dependencies import Session, require
from market.auth.permissions import Actor, Permission
from providers.schemas import (
    PublishIn,
    RequirementIn,
    RequirementOut,
    StandardCreate,
    StandardOut,
    StandardSummary,
)
from providers.standards import service as standards_service

router = APIRouter(prefix="/api/v1", tags=["providers"])
P = Permission


def _standard_out(view: standards_service.StandardView) -> StandardOut:
    return StandardOut(
        **StandardSummary.model_validate(view.standard).model_dump(),
        requirements=[RequirementOut.model_validate(r) for r in view.requirements],
    )


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
