"""Queries of the provider register (providers, and the municipalities they work in)."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.municipalities.models import Municipality
from providers.models import (
    Application,
    ApplicationStatus,
    Approval,
    Provider,
)


async def get_provider(session: AsyncSession, provider_id: int) -> Provider | None:
    return await session.get(Provider, provider_id)


async def get_provider_by_cvr(session: AsyncSession, cvr: str) -> Provider | None:
    result = await session.execute(select(Provider).where(col(Provider.cvr) == cvr))
    return result.scalar_one_or_none()


async def providers_in_municipality(
    session: AsyncSession, municipality_id: int
) -> Sequence[Provider]:
    """Providers with an approval or an application (beyond a draft) in the municipality."""
    with_approval = select(col(Approval.provider_id)).where(
        col(Approval.municipality_id) == municipality_id
    )
    with_application = select(col(Application.provider_id)).where(
        col(Application.municipality_id) == municipality_id,
        col(Application.status) != ApplicationStatus.DRAFT,
    )
    result = await session.execute(
        select(Provider)
        .where(col(Provider.id).in_(with_approval.union(with_application)))
        .order_by(col(Provider.name))
    )
    return result.scalars().all()


async def provider_in_municipality(
    session: AsyncSession, provider_id: int, municipality_id: int
) -> bool:
    """Whether the provider has an approval or a (non-draft) application there."""
    approval = select(col(Approval.id)).where(
        col(Approval.provider_id) == provider_id, col(Approval.municipality_id) == municipality_id
    )
    application = select(col(Application.id)).where(
        col(Application.provider_id) == provider_id,
        col(Application.municipality_id) == municipality_id,
        col(Application.status) != ApplicationStatus.DRAFT,
    )
    result = await session.execute(select(approval.exists() | application.exists()))
    return bool(result.scalar_one())


async def list_municipalities(session: AsyncSession) -> Sequence[Municipality]:
    result = await session.execute(select(Municipality).order_by(col(Municipality.name)))
    return result.scalars().all()


async def get_municipality(session: AsyncSession, municipality_id: int) -> Municipality | None:
    return await session.get(Municipality, municipality_id)


async def providers_by_ids(session: AsyncSession, ids: list[int]) -> dict[int, Provider]:
    if not ids:
        return {}
    result = await session.execute(select(Provider).where(col(Provider.id).in_(ids)))
    return {p.id: p for p in result.scalars() if p.id is not None}


async def municipality_names(session: AsyncSession) -> dict[int, str]:
    result = await session.execute(select(col(Municipality.id), col(Municipality.name)))
    return {row[0]: row[1] for row in result.all() if row[0] is not None}
