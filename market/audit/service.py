"""The audit chain: every state change appends one event, hash-linked per
municipality (and one platform chain for what belongs to no municipality)."""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import repository
from market.audit.models import GENESIS_HASH, PLATFORM_CHAIN, AuditEvent
from market.db import utcnow


class Acting(Protocol):
    """Who did it, and for whom (a proxy or case worker acting for a citizen)."""

    @property
    def user_id(self) -> int | None: ...

    @property
    def on_behalf_of_user_id(self) -> int | None: ...


def chain_for(municipality_id: int | None) -> str:
    return PLATFORM_CHAIN if municipality_id is None else f"municipality:{municipality_id}"


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "value"):  # enums
        return value.value
    raise TypeError(f"cannot put {type(value).__name__} into an audit event")


def canonical_json(data: dict[str, Any]) -> str:
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    )


def event_hash(values: dict[str, Any]) -> str:
    material = canonical_json(
        {
            "chain": values["chain"],
            "seq": values["seq"],
            "prev_hash": values["prev_hash"],
            "municipality_id": values["municipality_id"],
            "actor_user_id": values["actor_user_id"],
            "on_behalf_of_user_id": values["on_behalf_of_user_id"],
            "action": values["action"],
            "entity_type": values["entity_type"],
            "entity_id": values["entity_id"],
            "data_json": values["data_json"],
            "occurred_at": values["occurred_at"].isoformat(timespec="microseconds"),
        }
    )
    return hashlib.sha256(material.encode()).hexdigest()


async def record(
    session: AsyncSession,
    *,
    actor: Acting | None,
    action: str,
    entity_type: str,
    entity_id: int | str,
    municipality_id: int | None,
    data: dict[str, Any] | None = None,
) -> None:
    """Appends an event. Call it as the last write of the change it records:
    the chain head stays locked from here until the transaction ends."""
    chain = chain_for(municipality_id)
    seq, prev_hash = await repository.advance_head(session, chain)
    values: dict[str, Any] = {
        "chain": chain,
        "seq": seq,
        "prev_hash": prev_hash,
        "municipality_id": municipality_id,
        "actor_user_id": actor.user_id if actor else None,
        "on_behalf_of_user_id": actor.on_behalf_of_user_id if actor else None,
        "action": action,
        "entity_type": entity_type,
        "entity_id": str(entity_id),
        "data_json": canonical_json(data or {}),
        "occurred_at": utcnow(),
    }
    values["hash"] = event_hash(values)
    await repository.append(session, values)


@dataclass
class ChainReport:
    chain: str
    events: int = 0
    broken_at_seq: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass
class VerifyReport:
    chains: list[ChainReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.chains)

    @property
    def first_broken(self) -> ChainReport | None:
        return next((c for c in self.chains if not c.ok), None)


def _row_values(event: AuditEvent) -> dict[str, Any]:
    return {
        "chain": event.chain,
        "seq": event.seq,
        "prev_hash": event.prev_hash,
        "municipality_id": event.municipality_id,
        "actor_user_id": event.actor_user_id,
        "on_behalf_of_user_id": event.on_behalf_of_user_id,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "data_json": event.data_json,
        "occurred_at": event.occurred_at,
    }


async def verify_chain(session: AsyncSession, *, chain: str) -> ChainReport:
    report = ChainReport(chain=chain)
    expected_seq, expected_prev = 1, GENESIS_HASH
    async for event in repository.stream_chain(session, chain):
        if event.seq != expected_seq:
            report.broken_at_seq, report.problem = (
                expected_seq,
                (f"event {expected_seq} is missing (next stored event is {event.seq})"),
            )
            return report
        if event.prev_hash != expected_prev:
            report.broken_at_seq, report.problem = (
                event.seq,
                (f"event {event.seq} does not link to the hash of event {event.seq - 1}"),
            )
            return report
        if event_hash(_row_values(event)) != event.hash:
            report.broken_at_seq, report.problem = (
                event.seq,
                (f"event {event.seq} was changed after it was written (hash mismatch)"),
            )
            return report
        report.events += 1
        expected_seq, expected_prev = event.seq + 1, event.hash
    head = await repository.head(session, chain)
    if head is not None and (head.seq != expected_seq - 1 or head.hash != expected_prev):
        report.broken_at_seq, report.problem = (
            expected_seq,
            (
                f"the chain ends at event {expected_seq - 1} but its head says {head.seq}: "
                "events at the end were deleted"
            ),
        )
    return report


async def head_for_update(session: AsyncSession, *, chain: str) -> tuple[int, str]:
    """(seq, hash) of the chain's last event, held until the transaction ends so
    no event slips in before the caller's own (a document recording the head)."""
    return await repository.head_for_update(session, chain) or (0, GENESIS_HASH)


async def event_at(session: AsyncSession, *, chain: str, seq: int) -> AuditEvent | None:
    """The event at one place of a chain, e.g. the head a document recorded."""
    return await repository.event_at(session, chain, seq)


async def verify(
    session: AsyncSession, *, municipality_id: int | None = None, all_chains: bool = True
) -> VerifyReport:
    report = VerifyReport()
    if not all_chains:
        report.chains.append(await verify_chain(session, chain=chain_for(municipality_id)))
        return report
    for head in await repository.chains(session):
        report.chains.append(await verify_chain(session, chain=head.chain))
    return report


async def recent(
    session: AsyncSession,
    *,
    municipality_id: int | None,
    limit: int = 100,
    entity_type: str | None = None,
    entity_id: str | None = None,
) -> list[tuple[AuditEvent, str | None, str | None]]:
    """Events newest first, each with the names of who acted and for whom."""
    return await repository.recent(
        session,
        municipality_id=municipality_id,
        limit=limit,
        entity_type=entity_type,
        entity_id=entity_id,
    )
