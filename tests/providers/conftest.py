"""Fixtures of the providers tests: a published standard in Aarhus (and Odense),
applications in each state, small valid documents."""

import io
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.permissions import Actor
from market.auth.service import actor_for
from providers import service
from providers.models import Application, Approval, QualityStandard, Requirement
from providers.schemas import (
    ApprovalIn,
    DecisionIn,
    EvidenceIn,
    RequirementIn,
    StandardCreate,
)
from providers.service import DocumentIn


def _small_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _small_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (0, 128, 0)).save(buffer, format="PNG")
    return buffer.getvalue()


# Real documents: uploads are parsed and decoded in full before they are stored.
PDF = _small_pdf()
PNG = _small_png()


class Bytes:
    """An uploaded file as a route hands it to the service."""

    def __init__(self, data: bytes) -> None:
        self._buffer = io.BytesIO(data)

    async def read(self, size: int = -1) -> bytes:
        return self._buffer.read(size)


def actor(world, key: str) -> Actor:
    return actor_for(world.user(key))


@dataclass
class Standard:
    standard: QualityStandard
    attestation: Requirement
    cold_chain: Requirement
    allergens: Requirement
    insurance: Requirement


async def publish_standard(
    session: AsyncSession, admin: Actor, *, reapply_by: date | None = None
) -> Standard:
    draft = await service.create_standard(
        session, actor=admin, data=StandardCreate(service="madservice", title="Madservice")
    )
    draft = draft.standard
    assert draft.id is not None
    reqs = [
        RequirementIn(
            key="food-approval",
            title="Food-safety approval (smiley)",
            kind="attestation",
            mandatory=True,
        ),
        RequirementIn(
            key="cold-chain",
            title="Cold chain",
            kind="numeric_threshold",
            unit="°C",
            max_value="5",
            mandatory=True,
        ),
        RequirementIn(
            key="allergens",
            title="Allergen handling procedure",
            kind="document",
            mandatory=True,
        ),
        RequirementIn(
            key="insurance",
            title="Liability insurance",
            kind="numeric_threshold",
            unit="kr",
            min_value="5000000",
            mandatory=False,
        ),
    ]
    created = [
        await service.add_requirement(session, actor=admin, standard_id=draft.id, data=r)
        for r in reqs
    ]
    published = await service.publish_standard(
        session, actor=admin, standard_id=draft.id, reapply_by=reapply_by
    )
    return Standard(published.standard, *created)


@pytest.fixture
async def aarhus_standard(session, world) -> Standard:
    return await publish_standard(session, actor(world, "admin"))


@pytest.fixture
async def odense_standard(session, world) -> Standard:
    return await publish_standard(session, actor(world, "odense_admin"))


def good_evidence(std: Standard) -> list[EvidenceIn]:
    return [
        EvidenceIn(requirement_id=std.attestation.id, attested=True, statement="Elite-smiley"),
        EvidenceIn(requirement_id=std.cold_chain.id, value="4,5", statement="Logged hourly"),
        EvidenceIn(requirement_id=std.insurance.id, value="10.000.000"),
    ]


async def submitted_application(
    session: AsyncSession, world, std: Standard, settings, provider_key: str = "provider_admin"
) -> Application:
    provider_admin = actor(world, provider_key)
    application = (
        await service.start_application(
            session, actor=provider_admin, municipality_id=std.standard.municipality_id
        )
    ).application
    assert application.id is not None
    await service.save_application(
        session,
        actor=provider_admin,
        settings=settings,
        application_id=application.id,
        evidence=good_evidence(std),
        documents=[DocumentIn(std.allergens.id, "allergener.pdf", Bytes(PDF))],
        submit=True,
    )
    return application


def all_met(std: Standard) -> list[DecisionIn]:
    return [
        DecisionIn(requirement_id=r.id, met=True, comment="OK")
        for r in (std.attestation, std.cold_chain, std.allergens, std.insurance)
    ]


def approval_terms(**overrides) -> ApprovalIn:
    values = {
        "valid_from": service.today() - timedelta(days=1),
        "valid_to": service.today() + timedelta(days=365),
        "service_area": "8000, 8200 8210",
        "daily_capacity": 120,
        "unit_price": "85,00",
    }
    values.update(overrides)
    return ApprovalIn(**values)


async def approved(session: AsyncSession, world, std: Standard, settings, **terms) -> Approval:
    application = await submitted_application(session, world, std, settings)
    admin = actor(
        world, "admin" if std.standard.municipality_id == world.municipality.id else "odense_admin"
    )
    await service.record_decisions(
        session, actor=admin, application_id=application.id, decisions=all_met(std)
    )
    view = await service.approve_application(
        session, actor=admin, application_id=application.id, terms=approval_terms(**terms)
    )
    return view.approval
