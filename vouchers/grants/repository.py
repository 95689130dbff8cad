"""Queries of the vouchers grants."""

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped
from sqlmodel import col

from vouchers.models import (
    CopaymentCap,
    GrantStatus,
    VoucherGrant,
    WeekClosing,
)

# --- caps ------------------------------------------------------------------


async def get_cap(session: AsyncSession, municipality_id: int, year: int) -> CopaymentCap | None:
    return await session.get(CopaymentCap, (municipality_id, year), populate_existing=True)


async def put_cap(
    session: AsyncSession, municipality_id: int, year: int, cap_ore: int
) -> CopaymentCap:
    cap = await get_cap(session, municipality_id, year)
    if cap is None:
        cap = CopaymentCap(municipality_id=municipality_id, year=year, cap_ore=cap_ore)
        session.add(cap)
    else:
        cap.cap_ore = cap_ore
    await session.flush()
    return cap


async def list_caps(session: AsyncSession, municipality_id: int) -> Sequence[CopaymentCap]:
    result = await session.execute(
        select(CopaymentCap)
        .where(col(CopaymentCap.municipality_id) == municipality_id)
        .order_by(col(CopaymentCap.year))
    )
    return result.scalars().all()


# --- grants ----------------------------------------------------------------


async def get_grant(session: AsyncSession, grant_id: int) -> VoucherGrant | None:
    return await session.get(VoucherGrant, grant_id)


async def get_grant_for_update(session: AsyncSession, grant_id: int) -> VoucherGrant | None:
    """Locks the grant's row until the transaction ends (PostgreSQL), so a
    reservation and a revocation of the same grant never interleave. SQLite
    renders no FOR UPDATE; there BEGIN IMMEDIATE already serialises writers."""
    result = await session.execute(
        select(VoucherGrant)
        .where(col(VoucherGrant.id) == grant_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def grants_of_citizen(session: AsyncSession, citizen_id: int) -> Sequence[VoucherGrant]:
    result = await session.execute(
        select(VoucherGrant)
        .where(col(VoucherGrant.citizen_id) == citizen_id)
        .order_by(col(VoucherGrant.valid_from).desc(), col(VoucherGrant.id).desc())
    )
    return result.scalars().all()


async def active_grants_overlapping(
    session: AsyncSession, citizen_id: int, service: str, start: date, end: date
) -> Sequence[VoucherGrant]:
    result = await session.execute(
        select(VoucherGrant).where(
            col(VoucherGrant.citizen_id) == citizen_id,
            col(VoucherGrant.service) == service,
            col(VoucherGrant.status) == GrantStatus.ACTIVE,
            col(VoucherGrant.valid_from) <= end,
            col(VoucherGrant.valid_to) >= start,
        )
    )
    return result.scalars().all()


def active_grant_select(
    citizen_id: int | ColumnElement[Any] | Mapped[Any], day: date | ColumnElement[date]
) -> Select[VoucherGrant]:
    """The citizen's active grant covering ``day`` (the latest, should two), as a
    statement a caller may also nest in its own read (``citizen_id`` a column)."""
    return (
        select(VoucherGrant)
        .where(
            col(VoucherGrant.citizen_id) == citizen_id,
            col(VoucherGrant.status) == GrantStatus.ACTIVE,
            col(VoucherGrant.valid_from) <= day,
            col(VoucherGrant.valid_to) >= day,
        )
        .order_by(col(VoucherGrant.id).desc())
        .limit(1)
    )


async def active_grant_on(session: AsyncSession, citizen_id: int, day: date) -> VoucherGrant | None:
    result = await session.execute(active_grant_select(citizen_id, day))
    return result.scalar_one_or_none()


async def grants_with_weeks_to_close(
    session: AsyncSession, *, this_monday: date, today: date
) -> list[int]:
    """Grants with an ended week not yet closed, or active past their last day."""
    last_sunday = this_monday - timedelta(days=1)
    result = await session.execute(
        select(col(VoucherGrant.id))
        .outerjoin(WeekClosing, col(WeekClosing.grant_id) == col(VoucherGrant.id))
        .where(
            or_(
                and_(
                    col(VoucherGrant.valid_from) < this_monday,
                    or_(
                        col(WeekClosing.closed_through).is_(None),
                        and_(
                            col(WeekClosing.closed_through) < col(VoucherGrant.valid_to),
                            col(WeekClosing.closed_through) < last_sunday,
                        ),
                    ),
                ),
                and_(
                    col(VoucherGrant.status) == GrantStatus.ACTIVE,
                    col(VoucherGrant.valid_to) < today,
                ),
            )
        )
        .order_by(col(VoucherGrant.id))
    )
    return [grant_id for grant_id in result.scalars().all() if grant_id is not None]


async def closed_through(session: AsyncSession, grant_id: int) -> date | None:
    found = await session.get(WeekClosing, grant_id)
    return found.closed_through if found else None


async def set_closed_through(session: AsyncSession, grant_id: int, day: date) -> None:
    dialect = session.get_bind().dialect.name
    insert_ = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert_(WeekClosing).values(grant_id=grant_id, closed_through=day)
    await session.execute(
        statement.on_conflict_do_update(index_elements=["grant_id"], set_={"closed_through": day})
    )


async def grants_started_before(session: AsyncSession, day: date) -> Sequence[VoucherGrant]:
    result = await session.execute(
        select(VoucherGrant)
        .where(col(VoucherGrant.valid_from) < day)
        .order_by(col(VoucherGrant.id))
    )
    return result.scalars().all()


async def grants_by_ids(session: AsyncSession, grant_ids: Sequence[int]) -> dict[int, VoucherGrant]:
    if not grant_ids:
        return {}
    result = await session.execute(
        select(VoucherGrant).where(col(VoucherGrant.id).in_(set(grant_ids)))
    )
    return {g.id: g for g in result.scalars().all() if g.id is not None}
