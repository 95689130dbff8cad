from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.db import rows_matched
from market.outbox.models import OutboxKind, OutboxMessage, OutboxStatus


async def add_once(
    session: AsyncSession,
    *,
    kind: OutboxKind,
    idempotency_key: str,
    payload_json: str,
    municipality_id: int | None = None,
) -> None:
    """Inserts unless a message with the key exists: a retried request enqueues nothing twice."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        insert(OutboxMessage)
        .values(
            kind=kind,
            idempotency_key=idempotency_key,
            payload_json=payload_json,
            status=OutboxStatus.PENDING,
            attempts=0,
            municipality_id=municipality_id,
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
    )


async def due(session: AsyncSession, *, now: datetime, limit: int) -> Sequence[OutboxMessage]:
    result = await session.execute(
        select(OutboxMessage)
        .where(
            col(OutboxMessage.status) == OutboxStatus.PENDING,
            col(OutboxMessage.next_attempt_at) <= now,
        )
        .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
        .limit(limit)
    )
    return result.scalars().all()


async def claim(
    session: AsyncSession, *, message_id: int, seen_attempts: int, lease_until: datetime
) -> bool:
    """Takes a message for one delivery attempt. Conditional on the attempt count
    seen, so two workers never send the same message at the same time."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.id) == message_id,
            col(OutboxMessage.attempts) == seen_attempts,
            col(OutboxMessage.status) == OutboxStatus.PENDING,
        )
        .values(attempts=seen_attempts + 1, next_attempt_at=lease_until)
    )
    return rows_matched(result) == 1


async def mark_delivered(session: AsyncSession, *, message_id: int, when: datetime) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id)
        .values(status=OutboxStatus.DELIVERED, delivered_at=when, last_error=None)
    )


async def mark_failed(
    session: AsyncSession, *, message_id: int, error: str, retry_at: datetime | None
) -> None:
    values: dict[str, object] = {"last_error": error[:2000]}
    if retry_at is None:
        values["status"] = OutboxStatus.GAVE_UP
    else:
        values["next_attempt_at"] = retry_at
    await session.execute(
        update(OutboxMessage).where(col(OutboxMessage.id) == message_id).values(**values)
    )


async def get(session: AsyncSession, message_id: int) -> OutboxMessage | None:
    return await session.get(OutboxMessage, message_id)


async def by_key(session: AsyncSession, idempotency_key: str) -> OutboxMessage | None:
    result = await session.execute(
        select(OutboxMessage).where(col(OutboxMessage.idempotency_key) == idempotency_key)
    )
    return result.scalar_one_or_none()
