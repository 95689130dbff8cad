"""Queries of offers and ordering profiles."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from providers.models import (
    Approval,
    ApprovalPostalCode,
    ApprovalStatus,
    ContractTermsVersion,
    Offer,
    OrderingProfile,
    Provider,
)


@dataclass(frozen=True)
class OfferingRow:
    """What one offer needs to be sold in a municipality, read in one statement."""

    offer: Offer
    approval: Approval
    provider: Provider
    profile: OrderingProfile | None
    unit_price_ore: int | None
    postal_codes: list[str]


async def offering_row(
    session: AsyncSession, offer_id: int, municipality_id: int, on: date
) -> OfferingRow | None:
    """The offer with its standing approval in the municipality (not yet revoked
    or replaced), its provider, ordering profile, the price of the terms in force
    on ``on`` (the latest start on or before it) and the approval's postal codes:
    one round trip. None when there is no such offer, approval or provider."""
    terms = (
        select(col(ContractTermsVersion.unit_price_ore))
        .where(
            col(ContractTermsVersion.approval_id) == col(Approval.id),
            col(ContractTermsVersion.valid_from) <= on,
        )
        .order_by(
            col(ContractTermsVersion.valid_from).desc(), col(ContractTermsVersion.version).desc()
        )
        .limit(1)
        .correlate(Approval)
        .scalar_subquery()
    )
    codes = (
        select(func.aggregate_strings(col(ApprovalPostalCode.postal_code), ","))
        .where(col(ApprovalPostalCode.approval_id) == col(Approval.id))
        .correlate(Approval)
        .scalar_subquery()
    )
    result = await session.execute(
        select(Offer, Approval, Provider, OrderingProfile, terms, codes)
        .join(
            Approval,
            (col(Approval.provider_id) == col(Offer.provider_id))
            & (col(Approval.municipality_id) == municipality_id)
            & (col(Approval.service) == col(Offer.service))
            & col(Approval.status).in_([ApprovalStatus.ACTIVE, ApprovalStatus.SUSPENDED]),
        )
        .join(Provider, col(Provider.id) == col(Offer.provider_id))
        .outerjoin(OrderingProfile, col(OrderingProfile.provider_id) == col(Offer.provider_id))
        .where(col(Offer.id) == offer_id)
        .limit(1)
    )
    row = result.first()
    if row is None:
        return None
    offer, approval, provider, profile, price, joined = row
    return OfferingRow(
        offer=offer,
        approval=approval,
        provider=provider,
        profile=profile,
        unit_price_ore=price,
        postal_codes=sorted(joined.split(",")) if joined else [],
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
