"""The audit chain: every state change appends one event, hash-linked per
municipality (and one platform chain for what belongs to no municipality)."""

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import repository
from market.audit.keys import ChainKeys, current_keys
from market.audit.models import GENESIS_HASH, KEYED_HASH, PLATFORM_CHAIN, UNKEYED_HASH, AuditEvent
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


def _material(values: dict[str, Any]) -> dict[str, Any]:
    return {
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


def event_hash(values: dict[str, Any]) -> str:
    """The unkeyed hash of events written before migration 0009, kept to verify them."""
    return hashlib.sha256(canonical_json(_material(values)).encode()).hexdigest()


def keyed_event_hash(values: dict[str, Any], *, key: bytes, key_id: str) -> str:
    """HMAC-SHA256 over the event, its hash version and the key's id: without the
    key, nobody (database access or not) can make a hash that verifies."""
    material = canonical_json({**_material(values), "v": KEYED_HASH, "key_id": key_id})
    return hmac.new(key, material.encode(), hashlib.sha256).hexdigest()


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
    keys = current_keys()
    values["hash"] = keyed_event_hash(values, key=keys.current, key_id=keys.current_id)
    values["hash_version"] = KEYED_HASH
    values["key_id"] = keys.current_id
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


def _hash_problem(event: AuditEvent, keys: ChainKeys, keyed_seen: bool) -> str | None:
    """Why an event's own hash does not hold, or None when it does."""
    if event.hash_version == UNKEYED_HASH:
        if keyed_seen:
            # Keyed events only ever follow unkeyed ones: an unkeyed event after a
            # keyed one was written by someone without the key.
            return f"event {event.seq} has an unkeyed hash after keyed events (rewritten)"
        if event_hash(_row_values(event)) != event.hash:
            return f"event {event.seq} was changed after it was written (hash mismatch)"
        return None
    if event.hash_version != KEYED_HASH:
        return f"event {event.seq} has an unknown hash version {event.hash_version}"
    key = keys.by_id.get(event.key_id or "")
    if key is None:
        return (
            f"event {event.seq} was hashed with a key this server does not have "
            f"(key id {event.key_id}); add it to MARKET_AUDIT_PREVIOUS_KEYS"
        )
    expected = keyed_event_hash(_row_values(event), key=key, key_id=event.key_id or "")
    if not hmac.compare_digest(expected, event.hash):
        return f"event {event.seq} was changed after it was written (hash mismatch)"
    return None


async def verify_chain(session: AsyncSession, *, chain: str) -> ChainReport:
    report = ChainReport(chain=chain)
    keys = current_keys()
    keyed_seen = False
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
        problem = _hash_problem(event, keys, keyed_seen)
        if problem is not None:
            report.broken_at_seq, report.problem = event.seq, problem
            return report
        keyed_seen = keyed_seen or event.hash_version == KEYED_HASH
        report.events += 1
        expected_seq, expected_prev = event.seq + 1, event.hash
    if report.events and not keyed_seen:
        # Every chain got a keyed event at the upgrade (0015) and every new event
        # is keyed: a chain of unkeyed events only was rewritten without the key.
        report.broken_at_seq, report.problem = (
            1,
            "the chain has no keyed event: it was rewritten by someone without the audit key",
        )
        return report
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
