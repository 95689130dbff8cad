"""Every query of the payments package. Moves are conditional single UPDATEs
(``WHERE status = current``), so two writers never both win."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Result, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.payments.models import (
    FINAL_CARD_PAYMENT_STATUSES,
    CardPayment,
    CardPaymentStatus,
    CitizenPaymentMethod,
    GatewayEvent,
)


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


# --- how a citizen pays --------------------------------------------------------


def _rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE changed (its result is a CursorResult)."""
    return cast(CursorResult[Any], result).rowcount


async def get_method(session: AsyncSession, citizen_id: int) -> CitizenPaymentMethod | None:
    return await session.get(CitizenPaymentMethod, citizen_id, populate_existing=True)


async def save_method(session: AsyncSession, values: dict[str, Any]) -> None:
    insert_ = _insert(session)
    statement = insert_(CitizenPaymentMethod).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["citizen_id"],
            set_={k: statement.excluded[k] for k in values if k != "citizen_id"},
        )
    )


# --- card payments -------------------------------------------------------------


async def insert_card_payment(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """The new payment's id, or None when the order already has one."""
    insert_ = _insert(session)
    result = await session.execute(
        insert_(CardPayment)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["order_id"])
        .returning(col(CardPayment.id))
    )
    return result.scalar_one_or_none()


async def get_card_payment(session: AsyncSession, payment_id: int) -> CardPayment | None:
    return await session.get(CardPayment, payment_id, populate_existing=True)


async def card_payment_of_order(session: AsyncSession, order_id: int) -> CardPayment | None:
    result = await session.execute(
        select(CardPayment)
        .where(col(CardPayment.order_id) == order_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def card_payment_by_reference_or_key(
    session: AsyncSession, *, reference: str, key: str | None
) -> CardPayment | None:
    result = await session.execute(
        select(CardPayment)
        .where(col(CardPayment.gateway_reference) == reference)
        .execution_options(populate_existing=True)
    )
    found = result.scalars().first()
    if found is None and key:
        result = await session.execute(
            select(CardPayment)
            .where(col(CardPayment.idempotency_key) == key)
            .execution_options(populate_existing=True)
        )
        found = result.scalar_one_or_none()
    return found


async def card_payments_of_citizen(
    session: AsyncSession, citizen_id: int, *, limit: int = 50
) -> Sequence[CardPayment]:
    result = await session.execute(
        select(CardPayment)
        .where(col(CardPayment.citizen_id) == citizen_id)
        .order_by(col(CardPayment.id).desc())
        .limit(limit)
    )
    return [i for i in result.scalars() if i is not None]


async def want(
    session: AsyncSession, *, order_id: int, wanted: CardPaymentStatus, now: datetime
) -> bool:
    """Sets where an unfinished payment should end; the worker picks it up at once."""
    result = await session.execute(
        update(CardPayment)
        .where(
            col(CardPayment.order_id) == order_id,
            col(CardPayment.status).not_in(FINAL_CARD_PAYMENT_STATUSES),
        )
        .values(wanted=wanted, next_attempt_at=now, updated_at=now)
    )
    return _rowcount(result) == 1


async def due_card_payments(session: AsyncSession, *, now: datetime, limit: int) -> Sequence[int]:
    result = await session.execute(
        select(col(CardPayment.id))
        .where(
            col(CardPayment.status).not_in(FINAL_CARD_PAYMENT_STATUSES),
            col(CardPayment.status) != col(CardPayment.wanted),
            col(CardPayment.next_attempt_at) <= now,
        )
        .order_by(col(CardPayment.next_attempt_at), col(CardPayment.id))
        .limit(limit)
    )
    return [i for i in result.scalars() if i is not None]


async def claim(
    session: AsyncSession,
    *,
    payment_id: int,
    status: CardPaymentStatus,
    attempts: int,
    now: datetime,
    lease_until: datetime,
) -> bool:
    """Takes the payment for one gateway call. Another worker that read the same
    row finds ``attempts`` changed and leaves it alone."""
    result = await session.execute(
        update(CardPayment)
        .where(
            col(CardPayment.id) == payment_id,
            col(CardPayment.status) == status,
            col(CardPayment.attempts) == attempts,
            col(CardPayment.next_attempt_at) <= now,
        )
        .values(attempts=attempts + 1, next_attempt_at=lease_until, updated_at=now)
    )
    return _rowcount(result) == 1


async def move_card_payment(
    session: AsyncSession,
    *,
    payment_id: int,
    current: CardPaymentStatus,
    values: dict[str, Any],
    never_attempted: bool = False,
) -> bool:
    statement = update(CardPayment).where(
        col(CardPayment.id) == payment_id, col(CardPayment.status) == current
    )
    if never_attempted:
        statement = statement.where(col(CardPayment.attempts) == 0)
    result = await session.execute(statement.values(**values))
    return _rowcount(result) == 1


async def update_card_payment(
    session: AsyncSession, *, payment_id: int, values: dict[str, Any]
) -> None:
    await session.execute(
        update(CardPayment).where(col(CardPayment.id) == payment_id).values(**values)
    )


# --- gateway events ------------------------------------------------------------


async def insert_event(session: AsyncSession, values: dict[str, Any]) -> bool:
    """False when this event id was stored before (a replay)."""
    insert_ = _insert(session)
    result = await session.execute(
        insert_(GatewayEvent)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(col(GatewayEvent.id))
    )
    return result.scalar_one_or_none() is not None


async def finish_event(
    session: AsyncSession, *, event_id: str, outcome: str, processed_at: datetime
) -> None:
    await session.execute(
        update(GatewayEvent)
        .where(col(GatewayEvent.id) == event_id)
        .values(outcome=outcome, processed_at=processed_at)
    )


async def get_event(session: AsyncSession, event_id: str) -> GatewayEvent | None:
    return await session.get(GatewayEvent, event_id, populate_existing=True)
