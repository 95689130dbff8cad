from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.auth.models import User
from market.db import rows_matched
from market.operations.models import PeriodicRun
from market.orders.models import Order, WelfareAlert
from market.outbox.models import OutboxMessage, OutboxStatus
from vouchers.models import Citizen, LetterCode


async def record_run(
    session: AsyncSession,
    *,
    job: str,
    started_at: datetime,
    finished_at: datetime,
    ok: bool,
    report: str,
) -> None:
    row = await session.get(PeriodicRun, job)
    if row is None:
        row = PeriodicRun(job=job, started_at=started_at)
        session.add(row)
    row.started_at, row.finished_at, row.ok, row.report = started_at, finished_at, ok, report
    if ok:
        row.succeeded_at = finished_at
    await session.flush()


async def get_run(session: AsyncSession, job: str) -> PeriodicRun | None:
    return await session.get(PeriodicRun, job)


async def outbox_counts(session: AsyncSession) -> dict[OutboxStatus, int]:
    result = await session.execute(
        select(col(OutboxMessage.status), func.count()).group_by(col(OutboxMessage.status))
    )
    return {OutboxStatus(status): count for status, count in result.all()}


async def orders_by_status(session: AsyncSession) -> dict[str, int]:
    result = await session.execute(
        select(col(Order.status), func.count()).group_by(col(Order.status))
    )
    return {str(status): count for status, count in result.all()}


async def open_alerts(session: AsyncSession) -> tuple[int, datetime | None]:
    result = await session.execute(
        select(func.count(), func.min(col(WelfareAlert.raised_at))).where(
            col(WelfareAlert.acknowledged_at).is_(None)
        )
    )
    count, oldest = result.one()
    return count, oldest


async def dead_letters(
    session: AsyncSession, *, municipality_id: int | None, limit: int = 200
) -> Sequence[OutboxMessage]:
    query = select(OutboxMessage).where(col(OutboxMessage.status) == OutboxStatus.GAVE_UP)
    if municipality_id is not None:
        query = query.where(col(OutboxMessage.municipality_id) == municipality_id)
    result = await session.execute(query.order_by(col(OutboxMessage.id).desc()).limit(limit))
    return result.scalars().all()


async def requeue(session: AsyncSession, *, message_id: int, now: datetime) -> bool:
    """Conditional on the message still being given up: two clicks requeue it once."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.id) == message_id, col(OutboxMessage.status) == OutboxStatus.GAVE_UP
        )
        .values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now)
    )
    return rows_matched(result) == 1


async def get_message(session: AsyncSession, message_id: int) -> OutboxMessage | None:
    return await session.get(OutboxMessage, message_id)


async def all_citizens(session: AsyncSession) -> Sequence[Citizen]:
    return (await session.execute(select(Citizen).order_by(col(Citizen.id)))).scalars().all()


async def all_letter_codes(session: AsyncSession) -> Sequence[LetterCode]:
    return (await session.execute(select(LetterCode).order_by(col(LetterCode.id)))).scalars().all()


async def users_with_second_factor(session: AsyncSession) -> Sequence[User]:
    result = await session.execute(
        select(User).where(col(User.totp_secret_encrypted).is_not(None)).order_by(col(User.id))
    )
    return result.scalars().all()
