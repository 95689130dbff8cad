"""Co-payment statement JSON API."""

from typing import Annotated

from fastapi import APIRouter, Depends

from market.auth.dependencies import Session, require
from market.auth.permissions import Actor, Permission
from market.clock import parse_month
from market.copayments import service
from market.copayments.schemas import IssueIn, IssueOut, MonthOut

router = APIRouter(prefix="/api/v1", tags=["copayments"])


@router.get("/copayments/months", response_model=list[MonthOut])
async def months(
    session: Session, actor: Annotated[Actor, Depends(require(Permission.COPAYMENT_VIEW))]
) -> list[MonthOut]:
    """Every month with statements in the caller's municipality, newest first."""
    return [MonthOut(**vars(m)) for m in await service.months(session, actor=actor)]


@router.post("/copayments/issue", response_model=IssueOut, status_code=201)
async def issue(
    session: Session,
    actor: Annotated[Actor, Depends(require(Permission.COPAYMENT_STATEMENT_ISSUE))],
    body: IssueIn,
) -> IssueOut:
    """Issues an ended month's statements; only meals not yet charged are charged."""
    result = await service.issue_month(session, actor=actor, month_on=parse_month(body.month))
    return IssueOut(**vars(result))
