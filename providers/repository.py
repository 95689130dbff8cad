"""Every query of the providers domain."""

from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar, cast

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from market.municipalities.models import Municipality
from providers.models import (
    Application,
    ApplicationStatus,
    Approval,
    ApprovalPostalCode,
    ApprovalStatus,
    ContractTermsVersion,
    Evidence,
    EvidenceUpload,
    Offer,
    OrderingProfile,
    Provider,
    QualityStandard,
    Requirement,
    RequirementReview,
    StandardStatus,
)

Row = TypeVar("Row", bound=SQLModel)


async def add(session: AsyncSession, row: Row) -> Row:
    session.add(row)
    await session.flush()
    return row


async def save(session: AsyncSession, row: SQLModel) -> None:
    """Flushes changes made to an already loaded row."""
    session.add(row)
    await session.flush()


async def move_status(
    session: AsyncSession,
    model: type[Application] | type[Approval] | type[QualityStandard],
    row_id: int,
    current: StrEnum,
    target: StrEnum,
    values: dict[str, Any],
) -> bool:
    """One conditional UPDATE: moves the row only if it is still in ``current``.
    Of two people acting at once, exactly one wins, on SQLite and PostgreSQL alike;
    the loaded row in the session is updated with it."""
    result = await session.execute(
        update(model)
        .where(col(model.id) == row_id, col(model.status) == current)
        .values(status=target, **values)
    )
    # An UPDATE's result is a cursor result: it counts the rows it changed.
    return cast("CursorResult[Any]", result).rowcount == 1


# providers


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


# municipalities and standards


async def list_municipalities(session: AsyncSession) -> Sequence[Municipality]:
    result = await session.execute(select(Municipality).order_by(col(Municipality.name)))
    return result.scalars().all()


async def get_municipality(session: AsyncSession, municipality_id: int) -> Municipality | None:
    return await session.get(Municipality, municipality_id)


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


# applications, evidence, uploads, reviews


async def get_application(session: AsyncSession, application_id: int) -> Application | None:
    return await session.get(Application, application_id)


async def applications_of_provider(
    session: AsyncSession, provider_id: int
) -> Sequence[Application]:
    result = await session.execute(
        select(Application)
        .where(col(Application.provider_id) == provider_id)
        .order_by(col(Application.created_at).desc(), col(Application.id).desc())
    )
    return result.scalars().all()


async def applications_in_municipality(
    session: AsyncSession, municipality_id: int, status: ApplicationStatus | None = None
) -> Sequence[Application]:
    """Oldest submission first: the queue is worked in the order providers applied."""
    query = select(Application).where(col(Application.municipality_id) == municipality_id)
    if status is not None:
        query = query.where(col(Application.status) == status)
    query = query.order_by(
        col(Application.submitted_at).asc().nulls_last(),
        col(Application.id),
    )
    return (await session.execute(query)).scalars().all()


async def open_application(
    session: AsyncSession, provider_id: int, municipality_id: int, service: str
) -> Application | None:
    result = await session.execute(
        select(Application)
        .join(QualityStandard, col(QualityStandard.id) == col(Application.standard_id))
        .where(
            col(Application.provider_id) == provider_id,
            col(Application.municipality_id) == municipality_id,
            col(QualityStandard.service) == service,
            col(Application.status).in_([ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED]),
        )
        .limit(1)
    )
    return result.scalar_one_or_none()


async def evidence_of_application(session: AsyncSession, application_id: int) -> Sequence[Evidence]:
    result = await session.execute(
        select(Evidence).where(col(Evidence.application_id) == application_id)
    )
    return result.scalars().all()


async def uploads_of_application(
    session: AsyncSession, application_id: int
) -> Sequence[EvidenceUpload]:
    result = await session.execute(
        select(EvidenceUpload)
        .where(col(EvidenceUpload.application_id) == application_id)
        .order_by(col(EvidenceUpload.uploaded_at), col(EvidenceUpload.id))
    )
    return result.scalars().all()


async def get_upload(session: AsyncSession, upload_id: int) -> EvidenceUpload | None:
    return await session.get(EvidenceUpload, upload_id)


async def reviews_of_application(
    session: AsyncSession, application_id: int
) -> Sequence[RequirementReview]:
    result = await session.execute(
        select(RequirementReview).where(col(RequirementReview.application_id) == application_id)
    )
    return result.scalars().all()


# approvals and contract terms


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


async def providers_by_ids(session: AsyncSession, ids: list[int]) -> dict[int, Provider]:
    if not ids:
        return {}
    result = await session.execute(select(Provider).where(col(Provider.id).in_(ids)))
    return {p.id: p for p in result.scalars() if p.id is not None}


async def standards_by_ids(session: AsyncSession, ids: list[int]) -> dict[int, QualityStandard]:
    if not ids:
        return {}
    result = await session.execute(select(QualityStandard).where(col(QualityStandard.id).in_(ids)))
    return {s.id: s for s in result.scalars() if s.id is not None}


async def municipality_names(session: AsyncSession) -> dict[int, str]:
    result = await session.execute(select(col(Municipality.id), col(Municipality.name)))
    return {row[0]: row[1] for row in result.all() if row[0] is not None}


# offers and ordering


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
