from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from market.audit import service
from market.auth.dependencies import Session, require
from market.auth.permissions import Actor, Permission
from market.templating import render

router = APIRouter(include_in_schema=False)


def _scope(actor: Actor) -> tuple[int | None, bool]:
    """Municipal auditors see their municipality's chain; platform admins see all."""
    return actor.municipality_id, actor.municipality_id is None


@router.get("/audit", response_class=HTMLResponse)
async def audit_log(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(Permission.AUDIT_VIEW))],
) -> Response:
    municipality_id, _ = _scope(actor)
    events = await service.recent(session, municipality_id=municipality_id, limit=200)
    return render(request, "audit/log.html", {"events": events, "report": None})


@router.post("/audit/verify", response_class=HTMLResponse)
async def verify(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(Permission.AUDIT_VERIFY))],
) -> Response:
    municipality_id, all_chains = _scope(actor)
    report = await service.verify(session, municipality_id=municipality_id, all_chains=all_chains)
    events = await service.recent(session, municipality_id=municipality_id, limit=200)
    return render(request, "audit/log.html", {"events": events, "report": report})
