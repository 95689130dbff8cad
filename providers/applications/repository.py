"""Queries of applications, their evidence, documents and reviews."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from providers.models import (
    Application,
    ApplicationStatus,
    Evidence,
    EvidenceUpload,
    QualityStandard,
    RequirementReview,
)


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
