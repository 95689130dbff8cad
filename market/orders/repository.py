from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Result, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.auth.models import Role, User
from market.orders.models import (
    AlertStatus,
    CapacityUse,
    CitizenPause,
    DriverTap,
    Order,
    OrderEvent,
    OrderStatus,
    Rating,
    StandingOrder,
    WelfareAlert,
    WelfareNote,
)


def _rows_changed(result: Result[Any]) -> int:
    """An UPDATE's result is a CursorResult: it counts the rows it changed."""
    return cast(CursorResult[Any], result).rowcount


def _new_id(result: Result[Any]) -> int:
    """The id an INSERT ... RETURNING id gave the new row."""
    new_id = result.scalar_one()
    assert new_id is not None
    return int(new_id)


def _upsert_insert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


async def take_capacity(
    session: AsyncSession, *, scope: str, day: date, capacity: int, units: int
) -> bool:
    """Creates the day's counter if needed, then takes units only if they fit:
    one upsert whose update is conditional (``used + units <= capacity``), so
    concurrent orders never exceed it."""
    insert_ = _upsert_insert(session)
    if units <= capacity:
        upsert = insert_(CapacityUse).values(
            scope=scope, delivery_on=day, capacity=capacity, used=units
        )
        taken = await session.execute(
            upsert.on_conflict_do_update(
                index_elements=["scope", "delivery_on"],
                set_={"used": col(CapacityUse.used) + units},
                where=col(CapacityUse.used) + units <= col(CapacityUse.capacity),
            ).returning(col(CapacityUse.used))
        )
        return taken.scalar_one_or_none() is not None
    # More than the whole capacity: the counter exists, the units do not fit.
    await session.execute(
        insert_(CapacityUse)
        .values(scope=scope, delivery_on=day, capacity=capacity, used=0)
        .on_conflict_do_nothing(index_elements=["scope", "delivery_on"])
    )
    result = await session.execute(
        update(CapacityUse)
        .where(
            col(CapacityUse.scope) == scope,
            col(CapacityUse.delivery_on) == day,
            col(CapacityUse.used) + units <= col(CapacityUse.capacity),
        )
        .values(used=col(CapacityUse.used) + units)
        .returning(col(CapacityUse.used))
    )
    return result.scalar_one_or_none() is not None


async def give_back_capacity(session: AsyncSession, *, scope: str, day: date, units: int) -> None:
    await session.execute(
        update(CapacityUse)
        .where(
            col(CapacityUse.scope) == scope,
            col(CapacityUse.delivery_on) == day,
            col(CapacityUse.used) >= units,
        )
        .values(used=col(CapacityUse.used) - units)
    )


async def capacity_used(session: AsyncSession, *, scope: str, day: date) -> int:
    result = await session.execute(
        select(col(CapacityUse.used)).where(
            col(CapacityUse.scope) == scope, col(CapacityUse.delivery_on) == day
        )
    )
    return result.scalar_one_or_none() or 0


async def get_order(session: AsyncSession, order_id: int) -> Order | None:
    result = await session.execute(select(Order).where(col(Order.id) == order_id))
    return result.scalar_one_or_none()


async def get_order_by_key(session: AsyncSession, key: str) -> Order | None:
    result = await session.execute(select(Order).where(col(Order.idempotency_key) == key))
    return result.scalar_one_or_none()


async def move_order(
    session: AsyncSession, *, order_id: int, current: OrderStatus, values: dict[str, Any]
) -> bool:
    """Conditional on the status read, so two people acting at once cannot both win."""
    result = await session.execute(
        update(Order)
        .where(col(Order.id) == order_id, col(Order.status) == current)
        .values(**values)
    )
    return _rows_changed(result) == 1


async def add_event(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(OrderEvent).values(**values))


async def orders_of_citizen(
    session: AsyncSession, citizen_id: int, *, from_day: date | None = None, limit: int = 100
) -> Sequence[Order]:
    query = select(Order).where(col(Order.citizen_id) == citizen_id)
    if from_day is not None:
        query = query.where(col(Order.delivery_on) >= from_day)
    result = await session.execute(
        query.order_by(col(Order.delivery_on).desc(), col(Order.id).desc()).limit(limit)
    )
    return result.scalars().all()


async def orders_of_provider(
    session: AsyncSession,
    provider_id: int,
    *,
    day: date | None = None,
    statuses: frozenset[OrderStatus] | None = None,
    limit: int = 500,
) -> Sequence[Order]:
    query = select(Order).where(col(Order.provider_id) == provider_id)
    if day is not None:
        query = query.where(col(Order.delivery_on) == day)
    if statuses is not None:
        query = query.where(col(Order.status).in_(statuses))
    result = await session.execute(
        query.order_by(col(Order.delivery_on), col(Order.id)).limit(limit)
    )
    return result.scalars().all()


async def placed_past_deadline(session: AsyncSession, now: datetime) -> Sequence[Order]:
    result = await session.execute(
        select(Order).where(col(Order.status) == OrderStatus.PLACED, col(Order.accept_by_at) <= now)
    )
    return result.scalars().all()


async def insert_alert(session: AsyncSession, values: dict[str, Any]) -> int:
    result = await session.execute(
        insert(WelfareAlert).values(**values).returning(col(WelfareAlert.id))
    )
    return _new_id(result)


async def get_alert(session: AsyncSession, alert_id: int) -> WelfareAlert | None:
    return await session.get(WelfareAlert, alert_id)


async def acknowledge_alert(
    session: AsyncSession, *, alert_id: int, values: dict[str, Any]
) -> bool:
    result = await session.execute(
        update(WelfareAlert)
        .where(col(WelfareAlert.id) == alert_id, col(WelfareAlert.status) == AlertStatus.OPEN)
        .values(status=AlertStatus.ACKNOWLEDGED, **values)
    )
    return _rows_changed(result) == 1


async def alerts(
    session: AsyncSession, municipality_id: int, *, open_only: bool
) -> Sequence[WelfareAlert]:
    query = select(WelfareAlert).where(col(WelfareAlert.municipality_id) == municipality_id)
    if open_only:
        query = query.where(col(WelfareAlert.status) == AlertStatus.OPEN)
    result = await session.execute(query.order_by(col(WelfareAlert.raised_at)))
    return result.scalars().all()


async def add_rating(session: AsyncSession, rating: Rating) -> Rating:
    session.add(rating)
    await session.flush()
    return rating


async def rating_of(session: AsyncSession, order_id: int) -> Rating | None:
    result = await session.execute(select(Rating).where(col(Rating.order_id) == order_id))
    return result.scalar_one_or_none()


async def add_standing_order(session: AsyncSession, standing: StandingOrder) -> StandingOrder:
    session.add(standing)
    await session.flush()
    return standing


async def active_standing_orders(session: AsyncSession) -> Sequence[StandingOrder]:
    result = await session.execute(select(StandingOrder).where(col(StandingOrder.active).is_(True)))
    return result.scalars().all()


async def count_orders(session: AsyncSession, *, provider_id: int, status: OrderStatus) -> int:
    result = await session.execute(
        select(func.count())
        .select_from(Order)
        .where(col(Order.provider_id) == provider_id, col(Order.status) == status)
    )
    return result.scalar_one()


# --- kitchen board and welfare alert queue ---------------------------------


async def orders_by_ids(session: AsyncSession, order_ids: Sequence[int]) -> dict[int, Order]:
    if not order_ids:
        return {}
    result = await session.execute(select(Order).where(col(Order.id).in_(set(order_ids))))
    return {o.id: o for o in result.scalars().all() if o.id is not None}


async def count_open_alerts(session: AsyncSession, municipality_id: int) -> int:
    result = await session.execute(
        select(func.count())
        .select_from(WelfareAlert)
        .where(
            col(WelfareAlert.municipality_id) == municipality_id,
            col(WelfareAlert.status) == AlertStatus.OPEN,
        )
    )
    return result.scalar_one()


async def acknowledged_alerts(
    session: AsyncSession, municipality_id: int, *, limit: int = 50
) -> Sequence[WelfareAlert]:
    result = await session.execute(
        select(WelfareAlert)
        .where(
            col(WelfareAlert.municipality_id) == municipality_id,
            col(WelfareAlert.status) == AlertStatus.ACKNOWLEDGED,
        )
        .order_by(col(WelfareAlert.acknowledged_at).desc(), col(WelfareAlert.id).desc())
        .limit(limit)
    )
    return result.scalars().all()


# --- standing orders and the citizen's pages -------------------------------------


async def get_standing_order(session: AsyncSession, standing_id: int) -> StandingOrder | None:
    result = await session.execute(
        select(StandingOrder).where(col(StandingOrder.id) == standing_id)
    )
    return result.scalar_one_or_none()


async def standing_orders_of_citizen(
    session: AsyncSession, citizen_id: int
) -> Sequence[StandingOrder]:
    result = await session.execute(
        select(StandingOrder)
        .where(col(StandingOrder.citizen_id) == citizen_id)
        .order_by(col(StandingOrder.active).desc(), col(StandingOrder.id))
    )
    return result.scalars().all()


async def update_standing_order(
    session: AsyncSession, *, standing_id: int, values: dict[str, Any]
) -> None:
    await session.execute(
        update(StandingOrder).where(col(StandingOrder.id) == standing_id).values(**values)
    )


async def ratings_of(session: AsyncSession, order_ids: list[int]) -> dict[int, Rating]:
    if not order_ids:
        return {}
    result = await session.execute(select(Rating).where(col(Rating.order_id).in_(order_ids)))
    return {r.order_id: r for r in result.scalars().all()}


async def lock_idempotency_key(session: AsyncSession, key: str) -> None:
    """Serialises requests carrying the same idempotency key until the end of the
    transaction, so a raced double tap finds the first order instead of failing
    on the unique key. SQLite needs nothing: BEGIN IMMEDIATE serialises writers."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))


# --- pauses ----------------------------------------------------------------------


async def add_pause(session: AsyncSession, values: dict[str, Any]) -> int:
    result = await session.execute(
        insert(CitizenPause).values(**values).returning(col(CitizenPause.id))
    )
    return _new_id(result)


async def get_pause(session: AsyncSession, pause_id: int) -> CitizenPause | None:
    return await session.get(CitizenPause, pause_id, populate_existing=True)


async def set_pause_end(session: AsyncSession, *, pause_id: int, resumes_on: date | None) -> None:
    await session.execute(
        update(CitizenPause).where(col(CitizenPause.id) == pause_id).values(resumes_on=resumes_on)
    )


async def pauses_of_citizen(
    session: AsyncSession, citizen_id: int, *, not_ended_before: date
) -> Sequence[CitizenPause]:
    """The citizen's pauses still running on or after a day, earliest first."""
    result = await session.execute(
        select(CitizenPause)
        .where(
            col(CitizenPause.citizen_id) == citizen_id,
            (col(CitizenPause.resumes_on).is_(None))
            | (col(CitizenPause.resumes_on) > not_ended_before),
        )
        .order_by(col(CitizenPause.starts_on), col(CitizenPause.id))
    )
    return result.scalars().all()


async def orders_to_pause(
    session: AsyncSession,
    *,
    citizen_id: int,
    first: date,
    before: date | None,
    statuses: frozenset[OrderStatus],
) -> Sequence[Order]:
    query = select(Order).where(
        col(Order.citizen_id) == citizen_id,
        col(Order.delivery_on) >= first,
        col(Order.status).in_(statuses),
    )
    if before is not None:
        query = query.where(col(Order.delivery_on) < before)
    result = await session.execute(query.order_by(col(Order.delivery_on), col(Order.id)))
    return result.scalars().all()


async def paused_customers(
    session: AsyncSession, *, provider_id: int, day: date, since: date
) -> Sequence[CitizenPause]:
    """Pauses covering a day, of citizens who ordered from this provider since a day."""
    customers = (
        select(col(Order.citizen_id))
        .where(col(Order.provider_id) == provider_id, col(Order.delivery_on) >= since)
        .distinct()
    )
    result = await session.execute(
        select(CitizenPause)
        .where(
            col(CitizenPause.citizen_id).in_(customers),
            col(CitizenPause.starts_on) <= day,
            (col(CitizenPause.resumes_on).is_(None)) | (col(CitizenPause.resumes_on) > day),
        )
        .order_by(col(CitizenPause.citizen_id))
    )
    return result.scalars().all()


# --- the driver's page -------------------------------------------------------------


async def get_tap(session: AsyncSession, key: str) -> DriverTap | None:
    result = await session.execute(select(DriverTap).where(col(DriverTap.idempotency_key) == key))
    return result.scalar_one_or_none()


async def add_tap(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(DriverTap).values(**values))


async def insert_note(session: AsyncSession, values: dict[str, Any]) -> int:
    result = await session.execute(
        insert(WelfareNote).values(**values).returning(col(WelfareNote.id))
    )
    return _new_id(result)


async def get_note(session: AsyncSession, note_id: int) -> WelfareNote | None:
    return await session.get(WelfareNote, note_id, populate_existing=True)


async def get_note_by_key(session: AsyncSession, key: str) -> WelfareNote | None:
    result = await session.execute(
        select(WelfareNote).where(col(WelfareNote.idempotency_key) == key)
    )
    return result.scalar_one_or_none()


async def notes(
    session: AsyncSession, municipality_id: int, *, open_only: bool, limit: int = 200
) -> Sequence[WelfareNote]:
    query = select(WelfareNote).where(col(WelfareNote.municipality_id) == municipality_id)
    if open_only:
        query = query.where(col(WelfareNote.status) == AlertStatus.OPEN)
    result = await session.execute(query.order_by(col(WelfareNote.raised_at).desc()).limit(limit))
    return result.scalars().all()


async def roles_of_users(session: AsyncSession, user_ids: Sequence[int]) -> dict[int, Role]:
    """Who raised each note: a note's label names the driver or the volunteer."""
    if not user_ids:
        return {}
    result = await session.execute(
        select(col(User.id), col(User.role)).where(col(User.id).in_(list(user_ids)))
    )
    return {user_id: Role(role) for user_id, role in result.all() if user_id is not None}


async def acknowledge_note(session: AsyncSession, *, note_id: int, values: dict[str, Any]) -> bool:
    result = await session.execute(
        update(WelfareNote)
        .where(col(WelfareNote.id) == note_id, col(WelfareNote.status) == AlertStatus.OPEN)
        .values(status=AlertStatus.ACKNOWLEDGED, **values)
        .returning(col(WelfareNote.id))
    )
    return result.scalar_one_or_none() is not None
