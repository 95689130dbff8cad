"""Queries of approvals, their service areas and contract terms versions."""

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from providers.models import (
    Approval,
    ApprovalPostalCode,
    ApprovalStatus,
    ContractTermsVersion,
)


async def get_approval(session: AsyncSession, approval_id: int) -> Approval | None:
    return await session.get(Approval, approval_id)


async def approvals_of_provider(
    session: AsyncSession, provider_id: int, municipality_id: int | None = None
) -> Sequence[Approval]:
    query = select(Approval).where(col(Approval.provider_id) == provider_id)
    if municipality_id is not None:
        query = query.where(col(Approval.municipality_id) == municipality_id)
    query = query.order_by(col(Approval.municipality_id), col(Approval.valid_from).desc())
    return (await session.execute(query)).scalars().all()


async def approvals_in_municipality(
    session: AsyncSession, municipality_id: int
) -> Sequence[Approval]:
    result = await session.execute(
        select(Approval)
        .where(col(Approval.municipality_id) == municipality_id)
        .order_by(col(Approval.provider_id), col(Approval.valid_from).desc())
    )
    return result.scalars().all()


async def standing_approval(
    session: AsyncSession, provider_id: int, municipality_id: int, service: str
) -> Approval | None:
    """The approval that is not yet revoked or replaced, if any."""
    result = await session.execute(
        select(Approval)
        .where(
            col(Approval.provider_id) == provider_id,
            col(Approval.municipality_id) == municipality_id,
            col(Approval.service) == service,
            col(Approval.status).in_([ApprovalStatus.ACTIVE, ApprovalStatus.SUSPENDED]),
        )
        .limit(1)
    )
    return result.scalar_one_or_none()


async def active_approvals(
    session: AsyncSession, municipality_id: int, on: date, service: str | None = None
) -> Sequence[Approval]:
    query = select(Approval).where(
        col(Approval.municipality_id) == municipality_id,
        col(Approval.status) == ApprovalStatus.ACTIVE,
        col(Approval.valid_from) <= on,
        col(Approval.valid_to) >= on,
    )
    if service is not None:
        query = query.where(col(Approval.service) == service)
    return (await session.execute(query.order_by(col(Approval.id)))).scalars().all()


async def ask_to_reapply(
    session: AsyncSession, municipality_id: int, service: str, reapply_by: date, on: date
) -> list[int]:
    """Sets reapply_by on the approvals still standing on ``on`` (not expired)."""
    result = await session.execute(
        update(Approval)
        .where(
            col(Approval.municipality_id) == municipality_id,
            col(Approval.service) == service,
            col(Approval.valid_to) >= on,
            col(Approval.status).in_([ApprovalStatus.ACTIVE, ApprovalStatus.SUSPENDED]),
        )
        .values(reapply_by=reapply_by)
        .returning(col(Approval.id))
    )
    # An ORM-enabled UPDATE: loaded approvals in the session get the new value too.
    return [row[0] for row in result.all() if row[0] is not None]


async def add_postal_codes(session: AsyncSession, approval_id: int, codes: list[str]) -> None:
    session.add_all([ApprovalPostalCode(approval_id=approval_id, postal_code=c) for c in codes])
    await session.flush()


async def postal_codes_of(session: AsyncSession, approval_ids: list[int]) -> dict[int, list[str]]:
    if not approval_ids:
        return {}
    result = await session.execute(
        select(ApprovalPostalCode)
        .where(col(ApprovalPostalCode.approval_id).in_(approval_ids))
        .order_by(col(ApprovalPostalCode.postal_code))
    )
    codes: dict[int, list[str]] = {i: [] for i in approval_ids}
    for row in result.scalars():
        codes[row.approval_id].append(row.postal_code)
    return codes


async def latest_terms_of(
    session: AsyncSession, approval_ids: list[int], on: date | None = None
) -> dict[int, ContractTermsVersion]:
    """The terms version of each approval in force on ``on`` (the one with the
    latest start on or before it), or the latest-starting version without ``on``."""
    if not approval_ids:
        return {}
    query = select(ContractTermsVersion).where(
        col(ContractTermsVersion.approval_id).in_(approval_ids)
    )
    if on is not None:
        query = query.where(col(ContractTermsVersion.valid_from) <= on)
    terms: dict[int, ContractTermsVersion] = {}
    query = query.order_by(col(ContractTermsVersion.valid_from), col(ContractTermsVersion.version))
    for row in (await session.execute(query)).scalars():
        terms[row.approval_id] = row
    return terms


async def lock_approval(session: AsyncSession, approval_id: int) -> Approval | None:
    """The approval, locked, so two admins adding a terms version at once take
    turns (on SQLite the write transaction already serialises them)."""
    result = await session.execute(
        select(Approval).where(col(Approval.id) == approval_id).with_for_update()
    )
    return result.scalar_one_or_none()


async def terms_versions(session: AsyncSession, approval_id: int) -> Sequence[ContractTermsVersion]:
    """Every terms version of an approval, oldest first."""
    result = await session.execute(
        select(ContractTermsVersion)
        .where(col(ContractTermsVersion.approval_id) == approval_id)
        .order_by(col(ContractTermsVersion.version))
    )
    return result.scalars().all()


async def terms_in_force(
    session: AsyncSession, approval_id: int, on: date
) -> ContractTermsVersion | None:
    """The version with the latest start on or before the day. Versions start
    in the order of their numbers, so this is also the highest such version."""
    result = await session.execute(
        select(ContractTermsVersion)
        .where(
            col(ContractTermsVersion.approval_id) == approval_id,
            col(ContractTermsVersion.valid_from) <= on,
        )
        .order_by(
            col(ContractTermsVersion.valid_from).desc(), col(ContractTermsVersion.version).desc()
        )
        .limit(1)
    )
    return result.scalar_one_or_none()
