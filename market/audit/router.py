from typing import Annotated

from fastapi import APIRouter, Depends

from market.audit import service
from market.audit.schemas import ChainResult, VerifyResult
from market.auth.dependencies import Session, require
from market.auth.permissions import Actor, Permission

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("/verify", response_model=VerifyResult)
async def verify(
    session: Session, actor: Annotated[Actor, Depends(require(Permission.AUDIT_VERIFY))]
) -> VerifyResult:
    report = await service.verify(
        session,
        municipality_id=actor.municipality_id,
        all_chains=actor.municipality_id is None,
    )
    return VerifyResult(
        ok=report.ok,
        chains=[
            ChainResult(
                chain=c.chain,
                events=c.events,
                ok=c.ok,
                broken_at_seq=c.broken_at_seq,
                problem=c.problem,
            )
            for c in report.chains
        ],
    )
