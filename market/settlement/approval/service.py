"""Approving settlement statements with four eyes, under the month's lock."""

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.auth.permissions import Actor, Permission
from market.clock import first_of_month, last_of_month
from market.db import utcnow
from market.lifecycle import check_transition
from market.settlement import repository
from market.settlement.exceptions import (
    NothingToApprove,
    PreparerCannotApprove,
    StatementAlreadyApproved,
    StatementOutOfDate,
    UnfinishedOrders,
)
from market.settlement.models import (
    STATEMENT_TRANSITIONS,
    Statement,
    StatementStatus,
)
from market.settlement.scope import (
    COUNT_FIELDS,
    lock_month,
    municipality,
    statement_in_scope,
)

# --- approval (four eyes) ----------------------------------------------------------------


async def _approve(session: AsyncSession, actor: Actor, statement: Statement) -> Statement:
    """Approves ``statement``, read after the caller took the month's lock."""
    assert statement.id is not None
    check_transition(
        STATEMENT_TRANSITIONS,
        statement.status,
        StatementStatus.APPROVED,
        lambda *_: StatementAlreadyApproved(),
    )
    if statement.prepared_by_user_id == actor.user_id:
        raise PreparerCannotApprove()
    # The month as the orders say now: unfinished orders, or any change since the
    # run, would leave orders unsettled under a final statement.
    [live] = await repository.month_counts(
        session,
        municipality_id=statement.municipality_id,
        first=statement.month_on,
        last=last_of_month(statement.month_on),
        approval_id=statement.approval_id,
    ) or [{name: 0 for name in COUNT_FIELDS}]
    if live["unfinished_orders"]:
        raise UnfinishedOrders(live["unfinished_orders"])
    if any(live[name] != getattr(statement, name) for name in COUNT_FIELDS):
        raise StatementOutOfDate()
    lines = await repository.lines_of(session, [statement.id])
    adjustment_ids = [line.adjustment_id for line in lines if line.adjustment_id is not None]
    if await repository.apply_adjustments(
        session, adjustment_ids=adjustment_ids, statement_id=statement.id
    ) != len(adjustment_ids):
        raise StatementOutOfDate()  # carried into another statement approved meanwhile

    chain = audit.chain_for(statement.municipality_id)
    seq, hash_ = await audit.head_for_update(session, chain=chain)
    now = utcnow()
    if not await repository.approve(
        session,
        statement_id=statement.id,
        approved_by_user_id=actor.user_id,
        approved_at=now,
        seq=seq,
        hash_=hash_,
    ):
        raise StatementAlreadyApproved()
    await audit.record(
        session,
        actor=actor,
        action="settlement.statement_approved",
        entity_type="settlement_statement",
        entity_id=statement.id,
        municipality_id=statement.municipality_id,
        data={
            "month": statement.month_on.strftime("%Y-%m"),
            "approval_id": statement.approval_id,
            "provider_id": statement.provider_id,
            "terms_id": statement.terms_id,
            "total_ore": statement.total_ore,
            "lines": [
                {"kind": line.kind, "quantity": line.quantity, "amount_ore": line.amount_ore}
                for line in lines
            ],
            "audit_chain_seq": seq,
            "audit_chain_hash": hash_,
        },
    )
    approved = await repository.get_statement(session, statement.id)
    assert approved is not None
    return approved


async def approve_statement(session: AsyncSession, *, actor: Actor, statement_id: int) -> Statement:
    """Approves a draft; never by its preparer. Records the municipality's audit
    chain head (seq, hash) on the statement and in the approval's audit event."""
    statement = await statement_in_scope(
        session, actor, statement_id, Permission.SETTLEMENT_APPROVE
    )
    await lock_month(session, statement.municipality_id, statement.month_on)
    # Read again under the lock: a run may have replaced the draft meanwhile.
    statement = await statement_in_scope(
        session, actor, statement_id, Permission.SETTLEMENT_APPROVE
    )
    return await _approve(session, actor, statement)


async def approve_month(session: AsyncSession, *, actor: Actor, month_on: date) -> list[Statement]:
    """Approves every draft of the month, all or none."""
    municipality_id = municipality(actor, Permission.SETTLEMENT_APPROVE)
    await lock_month(session, municipality_id, first_of_month(month_on))
    statements = await repository.statements_of_month(
        session, municipality_id=municipality_id, month_on=first_of_month(month_on)
    )
    drafts = [s for s in statements if s.status == StatementStatus.DRAFT]
    if not drafts:
        raise NothingToApprove()
    return [await _approve(session, actor, statement) for statement in drafts]
