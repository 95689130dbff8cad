"""Queries of offers and ordering profiles."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from providers.models import (
    Offer,
    OrderingProfile,
)


async def get_offer(session: AsyncSession, offer_id: int) -> Offer | None:
    return await session.get(Offer, offer_id)


async def offers_of_provider(session: AsyncSession, provider_id: int) -> Sequence[Offer]:
    result = await session.execute(
        select(Offer).where(col(Offer.provider_id) == provider_id).order_by(col(Offer.name))
    )
    return result.scalars().all()


async def active_offers_of(session: AsyncSession, provider_ids: list[int]) -> Sequence[Offer]:
    if not provider_ids:
        return []
    result = await session.execute(
        select(Offer)
        .where(col(Offer.provider_id).in_(provider_ids), col(Offer.active).is_(True))
        .order_by(col(Offer.provider_id), col(Offer.name))
    )
    return result.scalars().all()


async def ordering_profile(session: AsyncSession, provider_id: int) -> OrderingProfile | None:
    return await session.get(OrderingProfile, provider_id)


async def ordering_profiles(
    session: AsyncSession, provider_ids: list[int]
) -> dict[int, OrderingProfile]:
    if not provider_ids:
        return {}
    result = await session.execute(
        select(OrderingProfile).where(col(OrderingProfile.provider_id).in_(provider_ids))
    )
    return {p.provider_id: p for p in result.scalars().all()}
