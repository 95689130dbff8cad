"""Every query of the providers domain."""

from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from market.municipalities.models import Municipality
from providers.models import (
    Application,
    ApplicationStatus,
    Approval,
    ApprovalPostalCode,
    ApprovalStatus,
    ContractTerms,
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
        .where(model.id == row_id, model.status == current)  # type: ignore[arg-type]
        .values(status=target, **values)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


# providers


async def get_provider(session: AsyncSession, provider_id: int) -> Provider | None:
    return await session.get(Provider, provider_id)


async def get_provider_by_cvr(session: AsyncSession, cvr: str) -> Provider | None:
    result = await session.execute(select(Provider).where(Provider.cvr == cvr))
    return result.scalar_one_or_none()


async def providers_in_municipality(
    session: AsyncSession, municipality_id: int
) -> Sequence[Provider]:
    """Providers with an approval or an application (beyond a draft) in the municipality."""
    with_approval = select(Approval.provider_id).where(Approval.municipality_id == municipality_id)
    with_application = select(Application.provider_id).where(
        Application.municipality_id == municipality_id,
        Application.status != ApplicationStatus.DRAFT,
    )
    result = await session.execute(
        select(Provider)
        .where(Provider.id.in_(with_approval.union(with_application)))  # type: ignore[union-attr]
        .order_by(Provider.name)
    )
    return result.scalars().all()


async def provider_in_municipality(
    session: AsyncSession, provider_id: int, municipality_id: int
) -> bool:
    """Whether the provider has an approval or a (non-draft) application there."""
    approval = select(Approval.id).where(
        Approval.provider_id == provider_id, Approval.municipality_id == municipality_id
    )
    application = select(Application.id).where(
        Application.provider_id == provider_id,
        Application.municipality_id == municipality_id,
        Application.status != ApplicationStatus.DRAFT,
    )
    result = await session.execute(select(approval.exists() | application.exists()))
    return bool(result.scalar_one())


# municipalities and standards


async def list_municipalities(session: AsyncSession) -> Sequence[Municipality]:
    result = await session.execute(select(Municipality).order_by(Municipality.name))
    return result.scalars().all()


async def get_municipality(session: AsyncSession, municipality_id: int) -> Municipality | None:
    return await session.get(Municipality, municipality_id)


async def get_standard(session: AsyncSession, standard_id: int) -> QualityStandard | None:
    return await session.get(QualityStandard, standard_id)


async def list_standards(session: AsyncSession, municipality_id: int) -> Sequence[QualityStandard]:
    result = await session.execute(
        select(QualityStandard)
        .where(QualityStandard.municipality_id == municipality_id)
        .order_by(QualityStandard.service, QualityStandard.version.desc())  # type: ignore[attr-defined]
    )
    return result.scalars().all()


async def standard_with_status(
    session: AsyncSession, municipality_id: int, service: str, status: StandardStatus
) -> QualityStandard | None:
    result = await session.execute(
        select(QualityStandard)
        .where(
            QualityStandard.municipality_id == municipality_id,
            QualityStandard.service == service,
            QualityStandard.status == status,
        )
        .order_by(QualityStandard.version.desc())  # type: ignore[attr-defined]
        .limit(1)
    )
    return result.scalar_one_or_none()


async def published_standards(session: AsyncSession) -> Sequence[QualityStandard]:
    result = await session.execute(
        select(QualityStandard)
        .where(QualityStandard.status == StandardStatus.PUBLISHED)
        .order_by(QualityStandard.municipality_id, QualityStandard.service)
    )
    return result.scalars().all()


async def latest_version(session: AsyncSession, municipality_id: int, service: str) -> int:
    result = await session.execute(
        select(func.max(QualityStandard.version)).where(
            QualityStandard.municipality_id == municipality_id, QualityStandard.service == service
        )
    )
    return result.scalar_one() or 0


async def list_requirements(session: AsyncSession, standard_id: int) -> Sequence[Requirement]:
    result = await session.execute(
        select(Requirement)
        .where(Requirement.standard_id == standard_id)
        .order_by(Requirement.position, Requirement.id)
    )
    return result.scalars().all()


async def get_requirement(session: AsyncSession, requirement_id: int) -> Requirement | None:
    return await session.get(Requirement, requirement_id)


async def requirement_with_key(
    session: AsyncSession, standard_id: int, key: str
) -> Requirement | None:
    result = await session.execute(
        select(Requirement).where(Requirement.standard_id == standard_id, Requirement.key == key)
    )
    return result.scalar_one_or_none()


async def next_requirement_position(session: AsyncSession, standard_id: int) -> int:
    result = await session.execute(
        select(func.max(Requirement.position)).where(Requirement.standard_id == standard_id)
    )
    return (result.scalar_one() or 0) + 1


async def delete_requirement(session: AsyncSession, requirement_id: int) -> None:
    await session.execute(delete(Requirement).where(Requirement.id == requirement_id))


# applications, evidence, uploads, reviews


async def get_application(session: AsyncSession, application_id: int) -> Application | None:
    return await session.get(Application, application_id)


async def applications_of_provider(
    session: AsyncSession, provider_id: int
) -> Sequence[Application]:
    result = await session.execute(
        select(Application)
        .where(Application.provider_id == provider_id)
        .order_by(Application.created_at.desc(), Application.id.desc())  # type: ignore[attr-defined,union-attr]
    )
    return result.scalars().all()


async def applications_in_municipality(
    session: AsyncSession, municipality_id: int, status: ApplicationStatus | None = None
) -> Sequence[Application]:
    """Oldest submission first: the queue is worked in the order providers applied."""
    query = select(Application).where(Application.municipality_id == municipality_id)
    if status is not None:
        query = query.where(Application.status == status)
    query = query.order_by(
        Application.submitted_at.asc().nulls_last(),  # type: ignore[union-attr]
        Application.id,
    )
    return (await session.execute(query)).scalars().all()


async def open_application(
    session: AsyncSession, provider_id: int, municipality_id: int, service: str
) -> Application | None:
    result = await session.execute(
        select(Application)
        .join(QualityStandard, QualityStandard.id == Application.standard_id)
        .where(
            Application.provider_id == provider_id,
            Application.municipality_id == municipality_id,
            QualityStandard.service == service,
            Application.status.in_(  # type: ignore[attr-defined]
                [ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED]
            ),
        )
        .limit(1)
    )
    return result.scalar_one_or_none()


async def evidence_of_application(session: AsyncSession, application_id: int) -> Sequence[Evidence]:
    result = await session.execute(
        select(Evidence).where(Evidence.application_id == application_id)
    )
    return result.scalars().all()


async def uploads_of_application(
    session: AsyncSession, application_id: int
) -> Sequence[EvidenceUpload]:
    result = await session.execute(
        select(EvidenceUpload)
        .where(EvidenceUpload.application_id == application_id)
        .order_by(EvidenceUpload.uploaded_at, EvidenceUpload.id)
    )
    return result.scalars().all()


async def get_upload(session: AsyncSession, upload_id: int) -> EvidenceUpload | None:
    return await session.get(EvidenceUpload, upload_id)


async def reviews_of_application(
    session: AsyncSession, application_id: int
) -> Sequence[RequirementReview]:
    result = await session.execute(
        select(RequirementReview).where(RequirementReview.application_id == application_id)
    )
    return result.scalars().all()


# approvals and contract terms


async def get_approval(session: AsyncSession, approval_id: int) -> Approval | None:
    return await session.get(Approval, approval_id)


async def approvals_of_provider(
    session: AsyncSession, provider_id: int, municipality_id: int | None = None
) -> Sequence[Approval]:
    query = select(Approval).where(Approval.provider_id == provider_id)
    if municipality_id is not None:
        query = query.where(Approval.municipality_id == municipality_id)
    query = query.order_by(Approval.municipality_id, Approval.valid_from.desc())  # type: ignore[attr-defined]
    return (await session.execute(query)).scalars().all()


async def approvals_in_municipality(
    session: AsyncSession, municipality_id: int
) -> Sequence[Approval]:
    result = await session.execute(
        select(Approval)
        .where(Approval.municipality_id == municipality_id)
        .order_by(Approval.provider_id, Approval.valid_from.desc())  # type: ignore[attr-defined]
    )
    return result.scalars().all()


async def standing_approval(
    session: AsyncSession, provider_id: int, municipality_id: int, service: str
) -> Approval | None:
    """The approval that is not yet revoked or replaced, if any."""
    result = await session.execute(
        select(Approval)
        .where(
            Approval.provider_id == provider_id,
            Approval.municipality_id == municipality_id,
            Approval.service == service,
            Approval.status.in_([ApprovalStatus.ACTIVE, ApprovalStatus.SUSPENDED]),  # type: ignore[attr-defined]
        )
        .limit(1)
    )
    return result.scalar_one_or_none()


async def active_approvals(
    session: AsyncSession, municipality_id: int, on: date, service: str | None = None
) -> Sequence[Approval]:
    query = select(Approval).where(
        Approval.municipality_id == municipality_id,
        Approval.status == ApprovalStatus.ACTIVE,
        Approval.valid_from <= on,
        Approval.valid_to >= on,
    )
    if service is not None:
        query = query.where(Approval.service == service)
    return (await session.execute(query.order_by(Approval.id))).scalars().all()


async def ask_to_reapply(
    session: AsyncSession, municipality_id: int, service: str, reapply_by: date, on: date
) -> list[int]:
    """Sets reapply_by on the approvals still standing on ``on`` (not expired)."""
    result = await session.execute(
        update(Approval)
        .where(
            Approval.municipality_id == municipality_id,
            Approval.service == service,
            Approval.valid_to >= on,
            Approval.status.in_([ApprovalStatus.ACTIVE, ApprovalStatus.SUSPENDED]),  # type: ignore[attr-defined]
        )
        .values(reapply_by=reapply_by)
        .returning(Approval.id)
    )
    # An ORM-enabled UPDATE: loaded approvals in the session get the new value too.
    return [row[0] for row in result.all()]


async def add_postal_codes(session: AsyncSession, approval_id: int, codes: list[str]) -> None:
    session.add_all([ApprovalPostalCode(approval_id=approval_id, postal_code=c) for c in codes])
    await session.flush()


async def postal_codes_of(session: AsyncSession, approval_ids: list[int]) -> dict[int, list[str]]:
    if not approval_ids:
        return {}
    result = await session.execute(
        select(ApprovalPostalCode)
        .where(ApprovalPostalCode.approval_id.in_(approval_ids))  # type: ignore[attr-defined]
        .order_by(ApprovalPostalCode.postal_code)
    )
    codes: dict[int, list[str]] = {i: [] for i in approval_ids}
    for row in result.scalars():
        codes[row.approval_id].append(row.postal_code)
    return codes


async def latest_terms_of(
    session: AsyncSession, approval_ids: list[int], on: date | None = None
) -> dict[int, ContractTerms]:
    """The terms version of each approval in force on ``on`` (the one with the
    latest start on or before it), or the latest-starting version without ``on``."""
    if not approval_ids:
        return {}
    query = select(ContractTerms).where(ContractTerms.approval_id.in_(approval_ids))  # type: ignore[attr-defined]
    if on is not None:
        query = query.where(ContractTerms.valid_from <= on)
    terms: dict[int, ContractTerms] = {}
    query = query.order_by(ContractTerms.valid_from, ContractTerms.version)  # type: ignore[arg-type]
    for row in (await session.execute(query)).scalars():
        terms[row.approval_id] = row
    return terms


async def lock_approval(session: AsyncSession, approval_id: int) -> Approval | None:
    """The approval, locked, so two admins adding a terms version at once take
    turns (on SQLite the write transaction already serialises them)."""
    result = await session.execute(
        select(Approval).where(Approval.id == approval_id).with_for_update()
    )
    return result.scalar_one_or_none()


async def terms_versions(session: AsyncSession, approval_id: int) -> Sequence[ContractTerms]:
    """Every terms version of an approval, oldest first."""
    result = await session.execute(
        select(ContractTerms)
        .where(ContractTerms.approval_id == approval_id)
        .order_by(ContractTerms.version)  # type: ignore[arg-type]
    )
    return result.scalars().all()


async def terms_in_force(session: AsyncSession, approval_id: int, on: date) -> ContractTerms | None:
    """The version with the latest start on or before the day. Versions start
    in the order of their numbers, so this is also the highest such version."""
    result = await session.execute(
        select(ContractTerms)
        .where(ContractTerms.approval_id == approval_id, ContractTerms.valid_from <= on)
        .order_by(ContractTerms.valid_from.desc(), ContractTerms.version.desc())  # type: ignore[attr-defined]
        .limit(1)
    )
    return result.scalar_one_or_none()


async def providers_by_ids(session: AsyncSession, ids: list[int]) -> dict[int, Provider]:
    if not ids:
        return {}
    result = await session.execute(select(Provider).where(Provider.id.in_(ids)))  # type: ignore[union-attr]
    return {p.id: p for p in result.scalars() if p.id is not None}


async def standards_by_ids(session: AsyncSession, ids: list[int]) -> dict[int, QualityStandard]:
    if not ids:
        return {}
    result = await session.execute(
        select(QualityStandard).where(QualityStandard.id.in_(ids))  # type: ignore[union-attr]
    )
    return {s.id: s for s in result.scalars() if s.id is not None}


async def municipality_names(session: AsyncSession) -> dict[int, str]:
    result = await session.execute(select(Municipality.id, Municipality.name))
    return {row[0]: row[1] for row in result.all()}


# offers and ordering


async def get_offer(session: AsyncSession, offer_id: int) -> Offer | None:
    return await session.get(Offer, offer_id)


async def offers_of_provider(session: AsyncSession, provider_id: int) -> Sequence[Offer]:
    result = await session.execute(
        select(Offer).where(Offer.provider_id == provider_id).order_by(Offer.name)
    )
    return result.scalars().all()


async def active_offers_of(session: AsyncSession, provider_ids: list[int]) -> Sequence[Offer]:
    if not provider_ids:
        return []
    result = await session.execute(
        select(Offer)
        .where(Offer.provider_id.in_(provider_ids), Offer.active.is_(True))  # type: ignore[attr-defined]
        .order_by(Offer.provider_id, Offer.name)
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
        select(OrderingProfile).where(OrderingProfile.provider_id.in_(provider_ids))  # type: ignore[attr-defined]
    )
    return {p.provider_id: p for p in result.scalars().all()}
