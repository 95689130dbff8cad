from collections.abc import AsyncIterator, Sequence

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from market.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from market.auth.models import User


async def advance_head(session: AsyncSession, chain: str) -> tuple[int, str]:
    """Takes the next sequence number of a chain and returns it with the previous hash.
    The UPDATE holds the head's row lock until commit, so appends never interleave.

    A new chain's head is created with ON CONFLICT DO NOTHING: when requests
    start a chain at once, the others wait for the first one's row and then
    take the places after it (the repeated UPDATE sees the committed row)."""
    advance = (
        update(AuditChainHead)
        .where(col(AuditChainHead.chain) == chain)
        .values(seq=col(AuditChainHead.seq) + 1)
        .returning(col(AuditChainHead.seq), col(AuditChainHead.hash))
    )
    row = (await session.execute(advance)).one_or_none()
    if row is not None:
        return row.seq, row.hash
    upsert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    created = await session.execute(
        upsert(AuditChainHead)
        .values(chain=chain, seq=1, hash=GENESIS_HASH)
        .on_conflict_do_nothing(index_elements=[col(AuditChainHead.chain)])
        .returning(col(AuditChainHead.seq))
    )
    if created.one_or_none() is not None:
        return 1, GENESIS_HASH
    row = (await session.execute(advance)).one()
    return row.seq, row.hash


async def append(session: AsyncSession, values: dict[str, object]) -> None:
    """The event, and the head's hash moved on to it. On PostgreSQL one
    statement (the INSERT as a data-modifying CTE of the UPDATE); SQLite has no
    such CTEs, so there it takes two."""
    move_head = (
        update(AuditChainHead)
        .where(col(AuditChainHead.chain) == values["chain"])
        .values(hash=values["hash"])
    )
    event = insert(AuditEvent).values(**values)
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(move_head.add_cte(event.cte("appended_event")))
        return
    await session.execute(event)
    await session.execute(move_head)


async def chains(session: AsyncSession) -> Sequence[AuditChainHead]:
    result = await session.execute(select(AuditChainHead).order_by(col(AuditChainHead.chain)))
    return result.scalars().all()


async def head_for_update(session: AsyncSession, chain: str) -> tuple[int, str] | None:
    """The head as it is now, locked (on PostgreSQL) until the transaction ends."""
    result = await session.execute(
        select(col(AuditChainHead.seq), col(AuditChainHead.hash))
        .where(col(AuditChainHead.chain) == chain)
        .with_for_update()
    )
    row = result.one_or_none()
    return None if row is None else (int(row[0]), str(row[1]))


async def head(session: AsyncSession, chain: str) -> AuditChainHead | None:
    return await session.get(AuditChainHead, chain)


async def event_at(session: AsyncSession, chain: str, seq: int) -> AuditEvent | None:
    result = await session.execute(
        select(AuditEvent).where(col(AuditEvent.chain) == chain, col(AuditEvent.seq) == seq)
    )
    return result.scalar_one_or_none()


async def stream_chain(session: AsyncSession, chain: str) -> AsyncIterator[AuditEvent]:
    result = await session.stream_scalars(
        select(AuditEvent).where(col(AuditEvent.chain) == chain).order_by(col(AuditEvent.seq))
    )
    async for event in result:
        yield event


async def recent(
    session: AsyncSession,
    *,
    municipality_id: int | None,
    limit: int,
    entity_type: str | None = None,
    entity_id: str | None = None,
) -> list[tuple[AuditEvent, str | None, str | None]]:
    """Newest first, with the names of who acted and for whom (an auditor reads
    names, not user ids)."""
    actor, for_whom = aliased(User), aliased(User)
    query = (
        select(AuditEvent, col(actor.full_name), col(for_whom.full_name))
        .outerjoin(actor, col(actor.id) == AuditEvent.actor_user_id)
        .outerjoin(for_whom, col(for_whom.id) == AuditEvent.on_behalf_of_user_id)
        .order_by(col(AuditEvent.occurred_at).desc(), col(AuditEvent.id).desc())
    )
    if municipality_id is not None:
        query = query.where(col(AuditEvent.municipality_id) == municipality_id)
    if entity_type is not None:
        query = query.where(col(AuditEvent.entity_type) == entity_type)
    if entity_id is not None:
        query = query.where(col(AuditEvent.entity_id) == entity_id)
    result = await session.execute(query.limit(limit))
    return [(row[0], row[1], row[2]) for row in result.all()]


async def count(session: AsyncSession, *, action: str | None = None) -> int:
    query = select(func.count()).select_from(AuditEvent)
    if action is not None:
        query = query.where(col(AuditEvent.action) == action)
    return (await session.execute(query)).scalar_one()
