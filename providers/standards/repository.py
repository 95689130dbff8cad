"""Queries of quality standards and their requirements."""

from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from providers.models import (
    QualityStandard,
    Requirement,
    StandardStatus,
)


async def get_standard(session: AsyncSession, standard_id: int) -> QualityStandard | None:
    return await session.get(QualityStandard, standard_id)


async def list_standards(session: AsyncSession, municipality_id: int) -> Sequence[QualityStandard]:
    result = await session.execute(
        select(QualityStandard)
        .where(col(QualityStandard.municipality_id) == municipality_id)
        .order_by(col(QualityStandard.service), col(QualityStandard.version).desc())
    )
    return result.scalars().all()


async def standard_with_status(
    session: AsyncSession, municipality_id: int, service: str, status: StandardStatus
) -> QualityStandard | None:
    result = await session.execute(
        select(QualityStandard)
        .where(
            col(QualityStandard.municipality_id) == municipality_id,
            col(QualityStandard.service) == service,
            col(QualityStandard.status) == status,
        )
        .order_by(col(QualityStandard.version).desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


async def published_standards(session: AsyncSession) -> Sequence[QualityStandard]:
    result = await session.execute(
        select(QualityStandard)
        .where(col(QualityStandard.status) == StandardStatus.PUBLISHED)
        .order_by(col(QualityStandard.municipality_id), col(QualityStandard.service))
    )
    return result.scalars().all()


async def latest_version(session: AsyncSession, municipality_id: int, service: str) -> int:
    result = await session.execute(
        select(func.max(col(QualityStandard.version))).where(
            col(QualityStandard.municipality_id) == municipality_id,
            col(QualityStandard.service) == service,
        )
    )
    return result.scalar_one() or 0


async def list_requirements(session: AsyncSession, standard_id: int) -> Sequence[Requirement]:
    result = await session.execute(
        select(Requirement)
        .where(col(Requirement.standard_id) == standard_id)
        .order_by(col(Requirement.position), col(Requirement.id))
    )
    return result.scalars().all()


async def get_requirement(session: AsyncSession, requirement_id: int) -> Requirement | None:
    return await session.get(Requirement, requirement_id)


async def requirement_with_key(
    session: AsyncSession, standard_id: int, key: str
) -> Requirement | None:
    result = await session.execute(
        select(Requirement).where(
            col(Requirement.standard_id) == standard_id, col(Requirement.key) == key
        )
    )
    return result.scalar_one_or_none()


async def next_requirement_position(session: AsyncSession, standard_id: int) -> int:
    result = await session.execute(
        select(func.max(col(Requirement.position))).where(
            col(Requirement.standard_id) == standard_id
        )
    )
    return (result.scalar_one() or 0) + 1


async def delete_requirement(session: AsyncSession, requirement_id: int) -> None:
    await session.execute(delete(Requirement).where(col(Requirement.id) == requirement_id))


async def standards_by_ids(session: AsyncSession, ids: list[int]) -> dict[int, QualityStandard]:
    if not ids:
        return {}
    result = await session.execute(select(QualityStandard).where(col(QualityStandard.id).in_(ids)))
    return {s.id: s for s in result.scalars() if s.id is not None}
