"""Quality standards: a municipality's versioned requirements for a
service, edited as a draft, published, and superseded by the next version
(which asks approved providers to re-apply)."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TypedDict

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.auth.permissions import Actor
from market.clock import today
from market.db import utcnow
from market.errors import (
    N_,
    Conflict,
    InvalidInput,
)
from market.municipalities import service as municipalities
from market.municipalities.models import Municipality
from providers import repository as rows
from providers.approvals import repository as approvals_repository
from providers.common import (
    municipality_of,
    parse_decimal,
    required,
)
from providers.exceptions import (
    RequirementNotFound,
    StandardNotEditable,
    StandardNotFound,
)
from providers.lifecycle import (
    STANDARD_TRANSITIONS,
    check_transition,
    move,
)
from providers.models import (
    QualityStandard,
    Requirement,
    RequirementKind,
    StandardStatus,
)
from providers.schemas import (
    RequirementIn,
    StandardCreate,
)
from providers.standards import repository


@dataclass
class StandardView:
    standard: QualityStandard
    requirements: list[Requirement]
    municipality: Municipality


async def list_standards(session: AsyncSession, *, actor: Actor) -> list[QualityStandard]:
    return list(await repository.list_standards(session, municipality_of(actor)))


async def _standard_for_editing(
    session: AsyncSession, actor: Actor, standard_id: int
) -> QualityStandard:
    standard = await repository.get_standard(session, standard_id)
    if standard is None or standard.municipality_id != municipality_of(actor):
        raise StandardNotFound()
    if standard.status != StandardStatus.DRAFT:
        raise StandardNotEditable(standard.status)
    return standard


async def _standard_view(session: AsyncSession, standard: QualityStandard) -> StandardView:
    assert standard.id is not None
    municipality = await municipalities.get(session, municipality_id=standard.municipality_id)
    requirements = list(await repository.list_requirements(session, standard.id))
    return StandardView(standard=standard, requirements=requirements, municipality=municipality)


async def get_standard(session: AsyncSession, *, actor: Actor, standard_id: int) -> StandardView:
    """Municipal staff see their own municipality's versions; providers see
    published and superseded versions everywhere (the standards are public)."""
    standard = await repository.get_standard(session, standard_id)
    visible = standard is not None and (
        standard.municipality_id == actor.municipality_id
        or (actor.provider_id is not None and standard.status != StandardStatus.DRAFT)
    )
    if standard is None or not visible or standard.id is None:
        raise StandardNotFound()
    municipality = await municipalities.get(session, municipality_id=standard.municipality_id)
    requirements = list(await repository.list_requirements(session, standard.id))
    return StandardView(standard=standard, requirements=requirements, municipality=municipality)


def _clean_service(service: str) -> str:
    service = (service or "").strip().lower()
    if not re.fullmatch(r"[a-zæøå0-9][a-zæøå0-9_-]{0,49}", service):
        raise InvalidInput(
            N_("Name the service in lower-case letters and digits, for example madservice.")
        )
    return service


async def create_standard(
    session: AsyncSession, *, actor: Actor, data: StandardCreate
) -> StandardView:
    """A new draft version; it starts as a copy of the published version's requirements."""
    municipality_id = municipality_of(actor)
    service = _clean_service(data.service)
    title = required(data.title, N_("Please give the standard a title."), 200)
    draft = await repository.standard_with_status(
        session, municipality_id, service, StandardStatus.DRAFT
    )
    if draft is not None:
        raise Conflict(
            N_(
                "Version {version} of the standard for {service} is still a draft. "
                "Finish and publish it before starting another."
            ),
            version=draft.version,
            service=service,
        )
    version = await repository.latest_version(session, municipality_id, service) + 1
    standard = await rows.add(
        session,
        QualityStandard(
            municipality_id=municipality_id, service=service, version=version, title=title
        ),
    )
    assert standard.id is not None
    published = await repository.standard_with_status(
        session, municipality_id, service, StandardStatus.PUBLISHED
    )
    if published is not None and published.id is not None:
        for old in await repository.list_requirements(session, published.id):
            await rows.add(
                session,
                Requirement(
                    standard_id=standard.id,
                    **old.model_dump(exclude={"id", "standard_id"}),
                ),
            )
    await audit.record(
        session,
        actor=actor,
        action="standard.created",
        entity_type="quality_standard",
        entity_id=standard.id,
        municipality_id=municipality_id,
        data={"service": service, "version": version, "title": title},
    )
    return await _standard_view(session, standard)


class RequirementFields(TypedDict):
    """A requirement as cleaned from the form; the keys are columns of ``Requirement``."""

    key: str
    title: str
    description: str
    kind: RequirementKind
    mandatory: bool
    unit: str | None
    min_value: Decimal | None
    max_value: Decimal | None


def _clean_requirement(data: RequirementIn) -> RequirementFields:
    key = (data.key or "").strip().lower()
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,49}", key):
        raise InvalidInput(
            N_("The key must be 1 to 50 lower-case letters, digits, - or _, e.g. cold-chain.")
        )
    cleaned: RequirementFields = {
        "key": key,
        "title": required(data.title, N_("Please give the requirement a title."), 200),
        "description": (data.description or "").strip(),
        "kind": data.kind,
        "mandatory": data.mandatory,
        "unit": None,
        "min_value": None,
        "max_value": None,
    }
    if data.kind == RequirementKind.NUMERIC_THRESHOLD:
        low = parse_decimal(data.min_value) if data.min_value else None
        high = parse_decimal(data.max_value) if data.max_value else None
        if low is None and high is None:
            raise InvalidInput(N_("A numeric threshold needs a minimum, a maximum or both."))
        if low is not None and high is not None and low > high:
            raise InvalidInput(N_("The minimum cannot be larger than the maximum."))
        cleaned["unit"] = required(
            data.unit or "", N_("A numeric threshold needs a unit, e.g. °C or kr."), 20
        )
        cleaned["min_value"] = low
        cleaned["max_value"] = high
    return cleaned


def _auditable(values: Mapping[str, object]) -> dict[str, object]:
    # The audit chain takes JSON: decimals go in as their exact text.
    return {k: str(v) if isinstance(v, Decimal) else v for k, v in values.items()}


async def add_requirement(
    session: AsyncSession, *, actor: Actor, standard_id: int, data: RequirementIn
) -> Requirement:
    standard = await _standard_for_editing(session, actor, standard_id)
    cleaned = _clean_requirement(data)
    if await repository.requirement_with_key(session, standard_id, str(cleaned["key"])):
        raise Conflict(
            N_("This standard already has a requirement with the key {key}."), key=cleaned["key"]
        )
    position = await repository.next_requirement_position(session, standard_id)
    requirement = await rows.add(
        session, Requirement(standard_id=standard_id, position=position, **cleaned)
    )
    assert requirement.id is not None
    await audit.record(
        session,
        actor=actor,
        action="standard.requirement_added",
        entity_type="quality_standard",
        entity_id=standard_id,
        municipality_id=standard.municipality_id,
        data={"requirement_id": requirement.id, **_auditable(cleaned)},
    )
    return requirement


async def _requirement_of(
    session: AsyncSession, standard_id: int, requirement_id: int
) -> Requirement:
    requirement = await repository.get_requirement(session, requirement_id)
    if requirement is None or requirement.standard_id != standard_id:
        raise RequirementNotFound()
    return requirement


async def update_requirement(
    session: AsyncSession,
    *,
    actor: Actor,
    standard_id: int,
    requirement_id: int,
    data: RequirementIn,
) -> Requirement:
    standard = await _standard_for_editing(session, actor, standard_id)
    requirement = await _requirement_of(session, standard_id, requirement_id)
    cleaned = _clean_requirement(data)
    other = await repository.requirement_with_key(session, standard_id, str(cleaned["key"]))
    if other is not None and other.id != requirement_id:
        raise Conflict(
            N_("This standard already has a requirement with the key {key}."), key=cleaned["key"]
        )
    for name, value in cleaned.items():
        setattr(requirement, name, value)
    await rows.save(session, requirement)
    await audit.record(
        session,
        actor=actor,
        action="standard.requirement_changed",
        entity_type="quality_standard",
        entity_id=standard_id,
        municipality_id=standard.municipality_id,
        data={"requirement_id": requirement_id, **_auditable(cleaned)},
    )
    return requirement


async def remove_requirement(
    session: AsyncSession, *, actor: Actor, standard_id: int, requirement_id: int
) -> None:
    standard = await _standard_for_editing(session, actor, standard_id)
    requirement = await _requirement_of(session, standard_id, requirement_id)
    await repository.delete_requirement(session, requirement_id)
    await audit.record(
        session,
        actor=actor,
        action="standard.requirement_removed",
        entity_type="quality_standard",
        entity_id=standard_id,
        municipality_id=standard.municipality_id,
        data={"requirement_id": requirement_id, "key": requirement.key},
    )


async def publish_standard(
    session: AsyncSession, *, actor: Actor, standard_id: int, reapply_by: date | None
) -> StandardView:
    """Publishes a draft. A version that supersedes a published one asks every
    approved provider to re-apply by ``reapply_by``."""
    municipality_id = municipality_of(actor)
    standard = await repository.get_standard(session, standard_id)
    if standard is None or standard.municipality_id != municipality_id:
        raise StandardNotFound()
    check_transition(STANDARD_TRANSITIONS, standard.status, StandardStatus.PUBLISHED)
    assert standard.id is not None
    if not await repository.list_requirements(session, standard.id):
        raise Conflict(N_("Add at least one requirement before publishing the standard."))
    previous = await repository.standard_with_status(
        session, municipality_id, standard.service, StandardStatus.PUBLISHED
    )
    asked: list[int] = []
    if previous is not None:
        if reapply_by is None:
            raise InvalidInput(
                N_(
                    "This version replaces version {version}: give the date by which "
                    "approved providers must re-apply."
                ),
                version=previous.version,
            )
        if reapply_by <= today():
            raise InvalidInput(N_("The re-apply date must be after today."))
        check_transition(STANDARD_TRANSITIONS, previous.status, StandardStatus.SUPERSEDED)
        await move(
            session,
            previous,
            STANDARD_TRANSITIONS,
            StandardStatus.SUPERSEDED,
        )
        asked = await approvals_repository.ask_to_reapply(
            session, municipality_id, standard.service, reapply_by, today()
        )
    else:
        reapply_by = None
    await move(
        session,
        standard,
        STANDARD_TRANSITIONS,
        StandardStatus.PUBLISHED,
        published_at=utcnow(),
        reapply_by=reapply_by,
    )
    await audit.record(
        session,
        actor=actor,
        action="standard.published",
        entity_type="quality_standard",
        entity_id=standard.id,
        municipality_id=municipality_id,
        data={
            "service": standard.service,
            "version": standard.version,
            "superseded_id": previous.id if previous else None,
            "reapply_by": reapply_by,
            "approvals_asked_to_reapply": asked,
        },
    )
    return await _standard_view(session, standard)
