from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.municipalities.models import Municipality, MunicipalityPostalCode


async def get(session: AsyncSession, municipality_id: int) -> Municipality | None:
    return await session.get(Municipality, municipality_id)


async def update_settings(session: AsyncSession, municipality_id: int, **values: object) -> None:
    """One conditional UPDATE; the ORM keeps a loaded Municipality in step."""
    await session.execute(
        update(Municipality).where(col(Municipality.id) == municipality_id).values(**values)
    )


async def get_by_code(session: AsyncSession, code: str) -> Municipality | None:
    result = await session.execute(select(Municipality).where(col(Municipality.code) == code))
    return result.scalar_one_or_none()


async def list_all(session: AsyncSession) -> Sequence[Municipality]:
    result = await session.execute(select(Municipality).order_by(col(Municipality.name)))
    return result.scalars().all()


async def postal_codes(
    session: AsyncSession, municipality_id: int
) -> Sequence[MunicipalityPostalCode]:
    result = await session.execute(
        select(MunicipalityPostalCode)
        .where(col(MunicipalityPostalCode.municipality_id) == municipality_id)
        .order_by(col(MunicipalityPostalCode.postal_code))
    )
    return result.scalars().all()


async def add(session: AsyncSession, municipality: Municipality) -> Municipality:
    session.add(municipality)
    await session.flush()
    return municipality


async def add_postal_codes(session: AsyncSession, rows: list[MunicipalityPostalCode]) -> None:
    session.add_all(rows)
    await session.flush()


async def replace_postal_codes(
    session: AsyncSession, municipality_id: int, rows: list[MunicipalityPostalCode]
) -> None:
    await session.execute(
        delete(MunicipalityPostalCode).where(
            col(MunicipalityPostalCode.municipality_id) == municipality_id
        )
    )
    session.add_all(rows)
    await session.flush()


async def refreshed(session: AsyncSession, municipality_id: int) -> Municipality:
    municipality = await session.get(Municipality, municipality_id, populate_existing=True)
    assert municipality is not None
    return municipality
