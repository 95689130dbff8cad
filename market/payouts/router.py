"""Payout JSON API: list payouts, pay approved statements."""

from typing import Annotated

from fastapi import APIRouter, Depends, status

from market.auth.dependencies import Session, require
from market.auth.permissions import Actor, Permission
from market.payouts import service
from market.payouts.models import Payout, PayoutStatus
from market.payouts.repository import PayoutRow
from market.payouts.schemas import PayoutOut, PayoutsIn

router = APIRouter(prefix="/api/v1", tags=["payouts"])

Payer = Annotated[Actor, Depends(require(Permission.PAYOUT_MANAGE))]


def _out(row: PayoutRow) -> PayoutOut:
    p: Payout = row.payout
    assert p.id is not None
    return PayoutOut(
        id=p.id,
        statement_id=p.statement_id,
        provider_id=p.provider_id,
        provider_name=row.provider_name,
        month_on=row.month_on,
        method=p.method.value,
        amount_ore=p.amount_ore,
        status=p.status.value,
        idempotency_key=p.idempotency_key,
        destination_masked=service.mask_account(p.destination),
        gateway_reference=p.gateway_reference,
        payment_file_id=p.payment_file_id,
        attempts=p.attempts,
        last_error=p.last_error,
        created_at=p.created_at,
        paid_at=p.paid_at,
    )


@router.get("/payouts", response_model=list[PayoutOut])
async def list_payouts(
    session: Session, actor: Payer, status: PayoutStatus | None = None
) -> list[PayoutOut]:
    """The municipality's payouts, newest first."""
    return [_out(row) for row in await service.list_payouts(session, actor=actor, status=status)]


@router.post("/payouts", response_model=list[PayoutOut], status_code=status.HTTP_201_CREATED)
async def create_payouts(session: Session, actor: Payer, body: PayoutsIn) -> list[PayoutOut]:
    """Pays approved statements: one payout each, the same one when asked again."""
    made = await service.create_payouts(
        session, actor=actor, statement_ids=body.statement_ids or None, month_on=body.month_on
    )
    ids = {p.id for p in made}
    return [
        _out(row)
        for row in await service.list_payouts(session, actor=actor)
        if row.payout.id in ids
    ]
