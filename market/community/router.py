"""The JSON API of co-production: the participation figures (no personal data)."""

from typing import Annotated

from fastapi import APIRouter, Depends

from market.auth.dependencies import Session, require
from market.auth.permissions import Actor, Permission
from market.community import service
from market.community.schemas import FigureOut

router = APIRouter(prefix="/api/v1", tags=["community"])
FigureViewer = Annotated[Actor, Depends(require(Permission.COMMUNITY_FIGURES_VIEW))]


@router.get("/community/participation", response_model=list[FigureOut])
async def participation(session: Session, actor: FigureViewer) -> list[FigureOut]:
    """Per association and postal code: visits planned and held, seats booked and
    used, citizens waiting for a match and the average days to a match."""
    rows = await service.participation(session, actor=actor)
    return [FigureOut.model_validate(row, from_attributes=True) for row in rows]
