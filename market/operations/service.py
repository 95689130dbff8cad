"""Is the service healthy, what are its figures, and the dead letters' retry."""

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from urllib.parse import urlsplit

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.auth.models import Role
from market.auth.permissions import Actor, municipality_scope
from market.config import Settings
from market.db import utcnow
from market.errors import N_, NotFound
from market.migrations import alembic_config
from market.operations import repository
from market.operations.metrics import DataFigures
from market.outbox.models import OutboxKind, OutboxMessage, OutboxStatus

PERIODIC_JOB = "tick"
DATABASE_TIMEOUT_SECONDS = 5


class DeadLetterNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("That message is not among the ones given up on."))


@dataclass
class Readiness:
    reasons: list[str] = field(default_factory=list)
    checks: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.reasons


@lru_cache
def migrations_head() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def _database_revision(session: AsyncSession) -> str | None:
    connection = await session.connection()
    return await connection.run_sync(
        lambda sync: MigrationContext.configure(sync).get_current_revision()
    )


async def readiness(
    session: AsyncSession, *, settings: Settings, now: datetime | None = None
) -> Readiness:
    """Every reason this instance should not take traffic, in words an operator reads."""
    now = now or utcnow()
    ready = Readiness()
    try:
        await asyncio.wait_for(session.execute(text("SELECT 1")), DATABASE_TIMEOUT_SECONDS)
    except Exception as exc:  # any failure to answer means: not ready
        ready.checks["database"] = "unreachable"
        ready.reasons.append(f"database unreachable ({type(exc).__name__})")
        return ready
    ready.checks["database"] = "ok"
    revision, head = await _database_revision(session), migrations_head()
    ready.checks["migration"] = revision
    if revision != head:
        ready.reasons.append(f"database at migration {revision}, the code expects {head}")
    deadline = settings.periodic_deadline_seconds
    if deadline is not None:
        run = await repository.get_run(session, PERIODIC_JOB)
        last = run.succeeded_at if run else None
        ready.checks["periodic_last_success"] = last.isoformat() if last else None
        if last is None or (now - last).total_seconds() > deadline:
            ready.reasons.append(f"the periodic work has not succeeded in the last {deadline} s")
    counts = await repository.outbox_counts(session)
    backlog, dead = counts.get(OutboxStatus.PENDING, 0), counts.get(OutboxStatus.GAVE_UP, 0)
    ready.checks["outbox_backlog"], ready.checks["outbox_dead_letters"] = backlog, dead
    if backlog > settings.ready_max_outbox_backlog:
        ready.reasons.append(
            f"{backlog} outbox messages wait (more than {settings.ready_max_outbox_backlog})"
        )
    if dead > settings.ready_max_dead_letters:
        ready.reasons.append(
            f"{dead} outbox messages were given up on (more than {settings.ready_max_dead_letters})"
        )
    return ready


async def figures(session: AsyncSession, *, now: datetime | None = None) -> DataFigures:
    now = now or utcnow()
    counts = await repository.outbox_counts(session)
    open_alerts, oldest = await repository.open_alerts(session)
    run = await repository.get_run(session, PERIODIC_JOB)
    if oldest is not None and oldest.tzinfo is None:  # SQLite forgets the zone in aggregates
        from datetime import UTC

        oldest = oldest.replace(tzinfo=UTC)
    return DataFigures(
        orders_by_status=await repository.orders_by_status(session),
        open_alerts=open_alerts,
        oldest_open_alert_age_seconds=(now - oldest).total_seconds() if oldest else 0.0,
        outbox_backlog=counts.get(OutboxStatus.PENDING, 0),
        outbox_dead_letters=counts.get(OutboxStatus.GAVE_UP, 0),
        last_periodic_run=run.finished_at if run else None,
        last_periodic_success=run.succeeded_at if run else None,
    )


def _scope(actor: Actor) -> int | None:
    """A platform admin sees every dead letter; a municipal admin its municipality's."""
    if actor.role == Role.PLATFORM_ADMIN:
        return None
    return municipality_scope(actor, None, DeadLetterNotFound)


async def dead_letters(session: AsyncSession, *, actor: Actor) -> list[OutboxMessage]:
    return list(await repository.dead_letters(session, municipality_id=_scope(actor)))


async def retry_dead_letter(session: AsyncSession, *, actor: Actor, message_id: int) -> None:
    """Puts a given-up message back in the queue with fresh attempts; audited."""
    scope = _scope(actor)
    message = await repository.get_message(session, message_id)
    if message is None or message.status != OutboxStatus.GAVE_UP:
        raise DeadLetterNotFound()
    if scope is not None and message.municipality_id != scope:
        raise DeadLetterNotFound()
    kind, attempts, municipality_id = message.kind, message.attempts, message.municipality_id
    if not await repository.requeue(session, message_id=message_id, now=utcnow()):
        raise DeadLetterNotFound()
    await audit.record(
        session,
        actor=actor,
        action="outbox.retried",
        entity_type="outbox_message",
        entity_id=message_id,
        municipality_id=municipality_id,
        data={"kind": kind.value, "attempts_before": attempts},
    )


@dataclass
class DeadLetter:
    id: int
    kind: str
    to: str
    what: str
    attempts: int
    last_error: str
    created_at: datetime


def describe(message: OutboxMessage) -> DeadLetter:
    """What staff need to judge a retry: where it went and why it failed, never the
    message body (a welfare alert names the citizen) nor a webhook's secret."""
    payload = json.loads(message.payload_json)
    if message.kind == OutboxKind.EMAIL:
        to, what = ", ".join(payload.get("to", [])), message.idempotency_key
    else:
        to, what = urlsplit(payload.get("url", "")).netloc, payload.get("event", "")
    assert message.id is not None
    return DeadLetter(
        id=message.id,
        kind=message.kind.value,
        to=to,
        what=what,
        attempts=message.attempts,
        last_error=(message.last_error or "")[:300],
        created_at=message.created_at,
    )
