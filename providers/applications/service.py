"""Applications for approval: a provider's draft with evidence per
requirement, submitting it once every mandatory requirement is met, the
municipality's requirement-by-requirement review, rejection and withdrawal.
Granting the approval is ``providers.approvals``; documents are in
``providers.applications.documents``."""

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.auth.permissions import Actor, Permission
from market.config import Settings
from market.db import utcnow
from market.errors import (
    N_,
    Conflict,
    IllegalTransition,
    InvalidInput,
    PermissionDenied,
)
from market.municipalities import service as municipalities
from market.municipalities.models import Municipality
from providers import repository as rows
from providers.applications import repository
from providers.applications.documents import (
    DocumentIn,
    accept_document,
)
from providers.common import (
    DEFAULT_SERVICE,
    PendingFile,
    may_see_application,
    municipality_of,
    parse_decimal,
    provider_of,
    store_files,
)
from providers.exceptions import (
    ApplicationNotFound,
    NoPublishedStandard,
    NotAProviderUser,
    ProviderNotFound,
    RequirementNotFound,
)
from providers.lifecycle import (
    APPLICATION_TRANSITIONS,
    NOT_EDITABLE,
    NOT_REVIEWABLE,
    check_transition,
    move,
)
from providers.models import (
    Application,
    ApplicationStatus,
    Evidence,
    EvidenceUpload,
    Provider,
    QualityStandard,
    Requirement,
    RequirementKind,
    RequirementReview,
    StandardStatus,
)
from providers.registry import repository as registry_repository
from providers.schemas import (
    DecisionIn,
    EvidenceIn,
)
from providers.standards import repository as standards_repository


@dataclass
class RequirementState:
    requirement: Requirement
    evidence: Evidence | None
    uploads: list[EvidenceUpload]
    review: RequirementReview | None

    @property
    def meets_threshold(self) -> bool | None:
        """For numeric thresholds: whether the given value lies within min and max."""
        if self.requirement.kind != RequirementKind.NUMERIC_THRESHOLD:
            return None
        value = self.evidence.numeric_value if self.evidence else None
        if value is None:
            return None
        low, high = self.requirement.min_value, self.requirement.max_value
        return (low is None or value >= low) and (high is None or value <= high)

    @property
    def provider_says_met(self) -> bool:
        kind = self.requirement.kind
        if kind == RequirementKind.ATTESTATION:
            return bool(self.evidence and self.evidence.attested)
        if kind == RequirementKind.NUMERIC_THRESHOLD:
            return self.meets_threshold is True
        return bool(self.uploads)


@dataclass
class ApplicationView:
    application: Application
    provider: Provider
    standard: QualityStandard
    municipality: Municipality
    items: list[RequirementState]
    # The documents accepted by the request that produced this view.
    new_uploads: list[EvidenceUpload] = field(default_factory=list)


async def load_application_view(session: AsyncSession, application: Application) -> ApplicationView:
    assert application.id is not None
    provider = await registry_repository.get_provider(session, application.provider_id)
    standard = await standards_repository.get_standard(session, application.standard_id)
    assert provider is not None and standard is not None and standard.id is not None
    municipality = await municipalities.get(session, municipality_id=application.municipality_id)
    evidence = {
        e.requirement_id: e
        for e in await repository.evidence_of_application(session, application.id)
    }
    reviews = {
        r.requirement_id: r
        for r in await repository.reviews_of_application(session, application.id)
    }
    uploads: dict[int, list[EvidenceUpload]] = {}
    for upload in await repository.uploads_of_application(session, application.id):
        uploads.setdefault(upload.requirement_id, []).append(upload)
    items = [
        RequirementState(
            requirement=r,
            evidence=evidence.get(r.id or 0),
            uploads=uploads.get(r.id or 0, []),
            review=reviews.get(r.id or 0),
        )
        for r in await standards_repository.list_requirements(session, standard.id)
    ]
    return ApplicationView(
        application=application,
        provider=provider,
        standard=standard,
        municipality=municipality,
        items=items,
    )


async def _visible_application(
    session: AsyncSession, actor: Actor, application_id: int
) -> Application:
    application = await repository.get_application(session, application_id)
    if application is None or not may_see_application(actor, application):
        raise ApplicationNotFound()
    return application


async def get_application(
    session: AsyncSession, *, actor: Actor, application_id: int
) -> ApplicationView:
    application = await _visible_application(session, actor, application_id)
    return await load_application_view(session, application)


async def start_application(
    session: AsyncSession, *, actor: Actor, municipality_id: int, service: str = DEFAULT_SERVICE
) -> ApplicationView:
    provider_id = provider_of(actor)
    municipality = await municipalities.get(session, municipality_id=municipality_id)
    standard = await standards_repository.standard_with_status(
        session, municipality_id, service, StandardStatus.PUBLISHED
    )
    if standard is None or standard.id is None:
        raise NoPublishedStandard(municipality.name, service)
    if await repository.open_application(session, provider_id, municipality_id, service):
        raise Conflict(
            N_(
                "You already have an open application to {municipality} for {service}. "
                "Continue that one or withdraw it first."
            ),
            municipality=municipality.name,
            service=service,
        )
    application = await rows.add(
        session,
        Application(
            provider_id=provider_id,
            municipality_id=municipality_id,
            standard_id=standard.id,
            created_by_user_id=actor.user_id,
        ),
    )
    assert application.id is not None
    await audit.record(
        session,
        actor=actor,
        action="application.created",
        entity_type="application",
        entity_id=application.id,
        municipality_id=municipality_id,
        data={"provider_id": provider_id, "standard_id": standard.id},
    )
    return await load_application_view(session, application)


def _blocking_requirement(items: list[RequirementState]) -> RequirementState | None:
    for item in items:
        if item.requirement.mandatory and not item.provider_says_met:
            return item
    return None


def _unmet_sentence(item: RequirementState) -> InvalidInput | Conflict:
    req = item.requirement
    if req.kind == RequirementKind.NUMERIC_THRESHOLD and item.meets_threshold is False:
        limits = []
        if req.min_value is not None:
            limits.append(f"at least {req.min_value} {req.unit}")
        if req.max_value is not None:
            limits.append(f"at most {req.max_value} {req.unit}")
        return Conflict(
            N_(
                "The application cannot be submitted: “{title}” is mandatory and {value} {unit} "
                "does not meet it ({limits})."
            ),
            title=req.title,
            value=item.evidence.numeric_value if item.evidence else "",
            unit=req.unit,
            limits=" and ".join(limits),
        )
    if req.kind == RequirementKind.DOCUMENT:
        return Conflict(
            N_("The application cannot be submitted: “{title}” is mandatory and needs a document."),
            title=req.title,
        )
    if req.kind == RequirementKind.ATTESTATION:
        return Conflict(
            N_(
                "The application cannot be submitted: “{title}” is mandatory; "
                "confirm that you meet it."
            ),
            title=req.title,
        )
    return Conflict(
        N_("The application cannot be submitted: “{title}” is mandatory and needs a value."),
        title=req.title,
    )


async def save_application(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    application_id: int,
    evidence: Sequence[EvidenceIn] = (),
    documents: Sequence[DocumentIn] = (),
    submit: bool = False,
) -> ApplicationView:
    """Saves the provider's evidence on a draft and, with ``submit``, sends it
    for review once every mandatory requirement is met by the evidence."""
    application = await _editable_application(session, actor, application_id)
    requirements = {
        r.id: r
        for r in await standards_repository.list_requirements(session, application.standard_id)
        if r.id is not None
    }
    changed = await _save_answers(session, application, requirements, evidence)
    pending: list[PendingFile] = []
    uploaded: list[EvidenceUpload] = []
    for document in documents:
        upload, file = await accept_document(
            session,
            actor=actor,
            settings=settings,
            application=application,
            requirement_ids=set(requirements),
            document=document,
        )
        pending.append(file)
        uploaded.append(upload)
    view = await load_application_view(session, application)
    if not (submit or changed or uploaded):
        return view
    if submit:
        await _submit(session, application, view)
    assert application.id is not None
    await audit.record(
        session,
        actor=actor,
        action="application.submitted" if submit else "application.saved",
        entity_type="application",
        entity_id=application.id,
        municipality_id=application.municipality_id,
        data={"evidence_changed": changed, "uploads": [u.id for u in uploaded]},
    )
    await store_files(pending)
    view.new_uploads = uploaded
    return view


async def _editable_application(
    session: AsyncSession, actor: Actor, application_id: int
) -> Application:
    """The provider's own draft; anything else cannot be changed."""
    application = await _visible_application(session, actor, application_id)
    if actor.provider_id is None:
        raise NotAProviderUser()
    if application.status != ApplicationStatus.DRAFT:
        raise IllegalTransition(NOT_EDITABLE[application.status])
    return application


async def _save_answers(
    session: AsyncSession,
    application: Application,
    requirements: dict[int, Requirement],
    evidence: Sequence[EvidenceIn],
) -> list[int]:
    """Saves the answers that differ from the stored ones; returns their requirement ids."""
    assert application.id is not None
    existing = {
        e.requirement_id: e
        for e in await repository.evidence_of_application(session, application.id)
    }
    changed: list[int] = []
    for answer in evidence:
        requirement = requirements.get(answer.requirement_id)
        if requirement is None:
            raise RequirementNotFound()
        value = None
        if requirement.kind == RequirementKind.NUMERIC_THRESHOLD and (answer.value or "").strip():
            value = parse_decimal(answer.value or "")
        row = existing.get(answer.requirement_id) or Evidence(
            application_id=application.id, requirement_id=answer.requirement_id
        )
        statement = (answer.statement or "").strip()
        if (row.attested, row.statement, row.numeric_value) != (answer.attested, statement, value):
            row.attested, row.statement, row.numeric_value = answer.attested, statement, value
            row.updated_at = utcnow()
            await rows.save(session, row)
            existing[answer.requirement_id] = row
            changed.append(answer.requirement_id)
    return changed


async def _submit(session: AsyncSession, application: Application, view: ApplicationView) -> None:
    """Sends the draft for review: against the standard still published, with
    every mandatory requirement met by the evidence."""
    check_transition(APPLICATION_TRANSITIONS, application.status, ApplicationStatus.SUBMITTED)
    if view.standard.status != StandardStatus.PUBLISHED:
        raise Conflict(
            N_(
                "The quality standard changed since this application was started. "
                "Withdraw it and start a new application against the current standard."
            )
        )
    blocking = _blocking_requirement(view.items)
    if blocking is not None:
        raise _unmet_sentence(blocking)
    await move(
        session,
        application,
        APPLICATION_TRANSITIONS,
        ApplicationStatus.SUBMITTED,
        submitted_at=utcnow(),
    )


async def withdraw_application(
    session: AsyncSession, *, actor: Actor, application_id: int
) -> ApplicationView:
    application = await _visible_application(session, actor, application_id)
    if actor.provider_id is None:
        raise NotAProviderUser()
    check_transition(APPLICATION_TRANSITIONS, application.status, ApplicationStatus.WITHDRAWN)
    await move(
        session,
        application,
        APPLICATION_TRANSITIONS,
        ApplicationStatus.WITHDRAWN,
        decided_at=utcnow(),
    )
    assert application.id is not None
    await audit.record(
        session,
        actor=actor,
        action="application.withdrawn",
        entity_type="application",
        entity_id=application.id,
        municipality_id=application.municipality_id,
    )
    return await load_application_view(session, application)


@dataclass
class QueueEntry:
    application: Application
    provider: Provider


async def review_queue(
    session: AsyncSession, *, actor: Actor, status: ApplicationStatus | None = None
) -> list[QueueEntry]:
    """Submitted applications of the actor's municipality, oldest first."""
    municipality_id = municipality_of(actor)
    applications = await repository.applications_in_municipality(
        session, municipality_id, status or ApplicationStatus.SUBMITTED
    )
    providers = await registry_repository.providers_by_ids(
        session, sorted({a.provider_id for a in applications})
    )
    return [QueueEntry(application=a, provider=providers[a.provider_id]) for a in applications]


async def reviewable(session: AsyncSession, actor: Actor, application_id: int) -> Application:
    application = await repository.get_application(session, application_id)
    if application is None or application.municipality_id != municipality_of(actor):
        raise ApplicationNotFound()
    if not actor.can(Permission.APPLICATION_REVIEW):
        raise PermissionDenied(N_("Your role does not allow this."))
    return application


async def record_decisions(
    session: AsyncSession, *, actor: Actor, application_id: int, decisions: Sequence[DecisionIn]
) -> ApplicationView:
    """The reviewer's met / not met per requirement; a later decision replaces an earlier one."""
    application = await reviewable(session, actor, application_id)
    if application.status != ApplicationStatus.SUBMITTED:
        raise IllegalTransition(NOT_REVIEWABLE[application.status])
    assert application.id is not None
    requirement_ids = {
        r.id for r in await standards_repository.list_requirements(session, application.standard_id)
    }
    existing = {
        r.requirement_id: r
        for r in await repository.reviews_of_application(session, application.id)
    }
    recorded = []
    for decision in decisions:
        if decision.requirement_id not in requirement_ids:
            raise RequirementNotFound()
        comment = (decision.comment or "").strip()
        row = existing.get(decision.requirement_id)
        if row is not None and (row.met, row.comment) == (decision.met, comment):
            continue
        row = row or RequirementReview(
            application_id=application.id,
            requirement_id=decision.requirement_id,
            met=decision.met,
            decided_by_user_id=actor.user_id,
        )
        row.met, row.comment = decision.met, comment
        row.decided_by_user_id, row.decided_at = actor.user_id, utcnow()
        await rows.save(session, row)
        recorded.append({"requirement_id": decision.requirement_id, "met": decision.met})
    if recorded:
        await audit.record(
            session,
            actor=actor,
            action="application.reviewed",
            entity_type="application",
            entity_id=application.id,
            municipality_id=application.municipality_id,
            data={"decisions": recorded},
        )
    return await load_application_view(session, application)


async def reject_application(
    session: AsyncSession, *, actor: Actor, application_id: int, reason: str
) -> ApplicationView:
    application = await reviewable(session, actor, application_id)
    check_transition(APPLICATION_TRANSITIONS, application.status, ApplicationStatus.REJECTED)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(N_("Give the reasons for the rejection; the provider will read them."))
    await move(
        session,
        application,
        APPLICATION_TRANSITIONS,
        ApplicationStatus.REJECTED,
        rejection_reason=reason,
        decided_at=utcnow(),
        decided_by_user_id=actor.user_id,
    )
    assert application.id is not None
    await audit.record(
        session,
        actor=actor,
        action="application.rejected",
        entity_type="application",
        entity_id=application.id,
        municipality_id=application.municipality_id,
        data={"reason": reason},
    )
    return await load_application_view(session, application)


async def list_applications(session: AsyncSession, *, actor: Actor) -> list[QueueEntry]:
    """The provider's own applications, or the municipality's review queue."""
    if actor.provider_id is not None:
        provider = await registry_repository.get_provider(session, provider_of(actor))
        if provider is None:
            raise ProviderNotFound()
        return [
            QueueEntry(application=a, provider=provider)
            for a in await repository.applications_of_provider(session, provider_of(actor))
        ]
    return await review_queue(session, actor=actor)
