"""Corrections of approved statements, carried into a later month."""

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.auth.permissions import Actor, Permission
from market.db import utcnow
from market.settlement import repository
from market.settlement.exceptions import (
    AdjustmentNeedsAmount,
    AdjustmentNeedsReason,
    AdjustmentOnDraft,
)
from market.settlement.models import (
    Adjustment,
    StatementStatus,
)
from market.settlement.scope import (
    statement_in_scope,
)

# --- adjustments ---------------------------------------------------------------------------


async def add_adjustment(
    session: AsyncSession, *, actor: Actor, statement_id: int, amount_ore: int, reason: str
) -> Adjustment:
    """A correction of an approved statement, carried as a line into the next
    settled month of the same approval."""
    statement = await statement_in_scope(session, actor, statement_id, Permission.SETTLEMENT_RUN)
    reason = reason.strip()
    if not reason:
        raise AdjustmentNeedsReason()
    if amount_ore == 0:
        raise AdjustmentNeedsAmount()
    if statement.status != StatementStatus.APPROVED:
        raise AdjustmentOnDraft()
    adjustment_id = await repository.insert_adjustment(
        session,
        {
            "municipality_id": statement.municipality_id,
            "provider_id": statement.provider_id,
            "approval_id": statement.approval_id,
            "corrects_statement_id": statement_id,
            "amount_ore": amount_ore,
            "reason": reason,
            "created_by_user_id": actor.user_id,
            "created_at": utcnow(),
        },
    )
    await audit.record(
        session,
        actor=actor,
        action="settlement.adjustment_added",
        entity_type="settlement_statement",
        entity_id=statement_id,
        municipality_id=statement.municipality_id,
        data={"adjustment_id": adjustment_id, "amount_ore": amount_ore, "reason": reason},
    )
    adjustment = await repository.get_adjustment(session, adjustment_id)
    assert adjustment is not None
    return adjustment
