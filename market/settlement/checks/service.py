"""Checking an approved statement against the municipality's audit chain."""

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.audit.models import GENESIS_HASH
from market.auth.permissions import Actor, Permission
from market.errors import N_
from market.settlement import repository
from market.settlement.exceptions import (
    OnlyApprovedCanBeChecked,
)
from market.settlement.models import (
    Statement,
    StatementStatus,
)
from market.settlement.scope import (
    statement_in_scope,
)

# --- checking an approved statement against the audit chain ---------------------------


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    message: str  # an N_() message id, with params
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StatementCheck:
    statement: Statement
    checks: list[ChainCheck]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


async def check_statement(
    session: AsyncSession, *, actor: Actor, statement_id: int
) -> StatementCheck:
    """What an auditor holding an approved statement wants proved: the
    municipality's chain is intact, the event the statement recorded as the
    head still has the recorded hash (so nothing before it was rewritten), and
    the approval's own event, right after it, states this statement's total and
    lines (so the statement was not changed after approval)."""
    statement = await statement_in_scope(session, actor, statement_id, Permission.SETTLEMENT_VIEW)
    if statement.status != StatementStatus.APPROVED or statement.audit_chain_seq is None:
        raise OnlyApprovedCanBeChecked()
    chain = audit.chain_for(statement.municipality_id)
    checks = [
        await _chain_intact(session, chain),
        await _head_unchanged(session, chain, statement),
        await _approval_states_statement(session, chain, statement),
    ]
    return StatementCheck(statement=statement, checks=checks)


async def _chain_intact(session: AsyncSession, chain: str) -> ChainCheck:
    report = await audit.verify_chain(session, chain=chain)
    if report.ok:
        return ChainCheck(
            True,
            N_("The municipality's audit chain is intact ({events} events)."),
            {"events": report.events},
        )
    return ChainCheck(
        False,
        N_("The municipality's audit chain is broken at event {seq}: {problem}"),
        {"seq": report.broken_at_seq, "problem": report.problem},
    )


async def _head_unchanged(session: AsyncSession, chain: str, statement: Statement) -> ChainCheck:
    """The event recorded as the chain's head on approval still has its hash."""
    seq, recorded = statement.audit_chain_seq, statement.audit_chain_hash
    assert seq is not None
    anchor = await audit.event_at(session, chain=chain, seq=seq) if seq else None
    found = anchor.hash if anchor is not None else (GENESIS_HASH if seq == 0 else None)
    return ChainCheck(
        found == recorded,
        N_("Event {seq} still has the hash recorded on the statement.")
        if found == recorded
        else N_("Event {seq} no longer has the hash recorded on the statement."),
        {"seq": seq},
    )


async def _approval_states_statement(
    session: AsyncSession, chain: str, statement: Statement
) -> ChainCheck:
    """The approval's own event, right after the head, states the total and lines."""
    seq, recorded = statement.audit_chain_seq, statement.audit_chain_hash
    assert seq is not None and statement.id is not None
    approval = await audit.event_at(session, chain=chain, seq=seq + 1)
    lines = await repository.lines_of(session, [statement.id])
    stated: dict[str, Any] = {}
    if (
        approval is not None
        and approval.action == "settlement.statement_approved"
        and approval.entity_id == str(statement.id)
        and approval.prev_hash == recorded
    ):
        stated = json.loads(approval.data_json)
    now = {
        "total_ore": statement.total_ore,
        "lines": [line.amount_ore for line in sorted(lines, key=lambda line: line.position)],
    }
    matches = (
        bool(stated)
        and {
            "total_ore": stated.get("total_ore"),
            "lines": [line.get("amount_ore") for line in stated.get("lines", [])],
        }
        == now
    )
    return ChainCheck(
        matches,
        N_("The approval (event {seq}) states the total and the lines the statement shows now.")
        if matches
        else N_(
            "The approval (event {seq}) does not state the total and the lines the "
            "statement shows now."
        ),
        {"seq": seq + 1},
    )
