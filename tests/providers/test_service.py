from datetime import timedelta

import pytest
from sqlalchemy import func, select

from market.audit.models import AuditEvent
from market.auth.models import Role, User
from market.errors import Conflict, IllegalTransition, InvalidInput
from market.municipalities.exceptions import UnknownPostalCode
from providers import service
from providers.exceptions import (
    ApplicationNotFound,
    ApprovalNotFound,
    CvrTaken,
    InvalidCvr,
    StandardNotEditable,
)
from providers.models import (
    Application,
    ApplicationStatus,
    ApprovalStatus,
    ContractTerms,
    Provider,
    RequirementKind,
    StandardStatus,
)
from providers.schemas import DecisionIn, ProviderRegistration, RequirementIn, StandardCreate
from tests.providers.conftest import (
    actor,
    all_met,
    approval_terms,
    approved,
    publish_standard,
    submitted_application,
)


def registration(**overrides) -> ProviderRegistration:
    values = {
        "name": "Madhuset Østjylland ApS",
        "cvr": "35408002",
        "address": "Industrivej 4",
        "postal_code": "8000",
        "city": "Aarhus C",
        "contact_name": "Mette Madsen",
        "contact_email": "kontakt@madhuset.dk",
        "contact_phone": "+45 86 12 34 56",
        "admin_email": "mette@madhuset.dk",
        "admin_full_name": "Mette Madsen",
        "admin_password": "langt-kodeord-123",
    }
    values.update(overrides)
    return ProviderRegistration(**values)


async def test_registration_creates_provider_admin_and_audit_event(session, world):
    result = await service.register_provider(session, actor=None, registration=registration())
    assert result.provider.cvr == "35408002"
    admin = await session.get(User, result.admin.id)
    assert admin.role == Role.PROVIDER_ADMIN and admin.provider_id == result.provider.id
    events = (
        (
            await session.execute(
                select(AuditEvent).where(AuditEvent.action == "provider.registered")
            )
        )
        .scalars()
        .all()
    )
    assert [e.entity_id for e in events] == [str(result.provider.id)]
    assert events[0].municipality_id is None


async def test_invalid_cvr_and_duplicate_cvr_are_refused(session, world):
    with pytest.raises(InvalidCvr):
        await service.register_provider(
            session, actor=None, registration=registration(cvr="35408003")
        )
    with pytest.raises(CvrTaken) as caught:
        await service.register_provider(
            session, actor=None, registration=registration(cvr=world.provider.cvr)
        )
    assert caught.value.status_code == 409
    assert "already registered" in str(caught.value)
    count = (await session.execute(select(func.count()).select_from(Provider))).scalar_one()
    assert count == 1


async def test_published_standard_is_immutable(session, world, aarhus_standard):
    admin = actor(world, "admin")
    with pytest.raises(StandardNotEditable) as caught:
        await service.add_requirement(
            session,
            actor=admin,
            standard_id=aarhus_standard.standard.id,
            data=RequirementIn(key="new", title="New", kind=RequirementKind.ATTESTATION),
        )
    assert caught.value.status_code == 409
    assert "published cannot be changed" in str(caught.value)
    with pytest.raises(IllegalTransition):
        await service.publish_standard(
            session, actor=admin, standard_id=aarhus_standard.standard.id, reapply_by=None
        )


async def test_numeric_requirement_needs_a_limit_and_a_unit(session, world):
    admin = actor(world, "admin")
    draft = (
        await service.create_standard(session, actor=admin, data=StandardCreate(title="Madservice"))
    ).standard
    with pytest.raises(InvalidInput, match="minimum, a maximum or both"):
        await service.add_requirement(
            session,
            actor=admin,
            standard_id=draft.id,
            data=RequirementIn(key="t", title="Temp", kind="numeric_threshold", unit="°C"),
        )
    with pytest.raises(InvalidInput, match="minimum cannot be larger"):
        await service.add_requirement(
            session,
            actor=admin,
            standard_id=draft.id,
            data=RequirementIn(
                key="t", title="T", kind="numeric_threshold", unit="°C", min_value=9, max_value=5
            ),
        )


async def test_new_version_supersedes_and_asks_approved_providers_to_reapply(
    session, world, aarhus_standard, settings
):
    approval = await approved(session, world, aarhus_standard, settings)
    admin = actor(world, "admin")
    draft = (
        await service.create_standard(session, actor=admin, data=StandardCreate(title="v2"))
    ).standard
    assert draft.version == 2
    copied = await service.get_standard(session, actor=admin, standard_id=draft.id)
    assert [r.key for r in copied.requirements] == [
        "food-approval",
        "cold-chain",
        "allergens",
        "insurance",
    ]
    with pytest.raises(InvalidInput, match="re-apply"):
        await service.publish_standard(session, actor=admin, standard_id=draft.id, reapply_by=None)
    by = service.today() + timedelta(days=90)
    await service.publish_standard(session, actor=admin, standard_id=draft.id, reapply_by=by)
    await session.refresh(approval)
    await session.refresh(aarhus_standard.standard)
    assert approval.reapply_by == by
    assert aarhus_standard.standard.status == StandardStatus.SUPERSEDED
    portal = await service.portal(session, actor=actor(world, "provider_admin"))
    assert portal.approvals[0].approval.reapply_by == by


async def test_submission_blocked_by_unmet_mandatory_threshold(
    session, world, aarhus_standard, settings
):
    provider_admin = actor(world, "provider_admin")
    application = (
        await service.start_application(
            session, actor=provider_admin, municipality_id=world.municipality.id
        )
    ).application
    from providers.schemas import EvidenceIn

    view = await service.save_application(
        session,
        actor=provider_admin,
        settings=settings,
        application_id=application.id,
        evidence=[EvidenceIn(requirement_id=aarhus_standard.cold_chain.id, value="7")],
    )
    cold = next(i for i in view.items if i.requirement.key == "cold-chain")
    assert cold.meets_threshold is False  # may be entered, shown as not meeting it
    with pytest.raises(Conflict) as caught:
        await service.save_application(
            session,
            actor=provider_admin,
            settings=settings,
            application_id=application.id,
            submit=True,
        )
    assert "Food-safety approval" in str(caught.value)  # the first unmet mandatory one
    await session.refresh(application)
    assert application.status == ApplicationStatus.DRAFT


async def test_full_review_and_approval_with_first_contract_terms(
    session, world, aarhus_standard, settings
):
    approval = await approved(session, world, aarhus_standard, settings, unit_price="85,50")
    assert approval.status == ApprovalStatus.ACTIVE
    terms = (
        (
            await session.execute(
                select(ContractTerms).where(ContractTerms.approval_id == approval.id)
            )
        )
        .scalars()
        .all()
    )
    assert [(t.version, t.unit_price_ore) for t in terms] == [(1, 8550)]
    application = await session.get(Application, approval.application_id)
    assert application.status == ApplicationStatus.APPROVED
    active = await service.active_approvals(
        session, municipality_id=world.municipality.id, on=service.today()
    )
    assert [a.id for a in active] == [approval.id]
    portal = await service.portal(session, actor=actor(world, "provider_admin"))
    assert portal.approvals[0].postal_codes == ["8000", "8200", "8210"]
    assert portal.approvals[0].effective_status == service.EffectiveStatus.ACTIVE


async def test_approve_refused_while_a_mandatory_requirement_is_not_met(
    session, world, aarhus_standard, settings
):
    application = await submitted_application(session, world, aarhus_standard, settings)
    admin = actor(world, "admin")
    with pytest.raises(Conflict, match="Decide the mandatory requirement “Food-safety"):
        await service.approve_application(
            session, actor=admin, application_id=application.id, terms=approval_terms()
        )
    decisions = all_met(aarhus_standard)
    decisions[1] = DecisionIn(requirement_id=aarhus_standard.cold_chain.id, met=False)
    await service.record_decisions(
        session, actor=admin, application_id=application.id, decisions=decisions
    )
    with pytest.raises(Conflict, match="“Cold chain” is not met"):
        await service.approve_application(
            session, actor=admin, application_id=application.id, terms=approval_terms()
        )


async def test_unknown_postal_code_and_bad_terms_are_refused(
    session, world, aarhus_standard, settings
):
    application = await submitted_application(session, world, aarhus_standard, settings)
    admin = actor(world, "admin")
    await service.record_decisions(
        session, actor=admin, application_id=application.id, decisions=all_met(aarhus_standard)
    )
    with pytest.raises(UnknownPostalCode, match="5000 is not served by Aarhus Kommune"):
        await service.approve_application(
            session,
            actor=admin,
            application_id=application.id,
            terms=approval_terms(service_area="8000 5000"),
        )
    with pytest.raises(InvalidInput, match="end after"):
        await service.approve_application(
            session,
            actor=admin,
            application_id=application.id,
            terms=approval_terms(valid_to=service.today() - timedelta(days=1)),
        )
    with pytest.raises(InvalidInput, match="capacity"):
        await service.approve_application(
            session,
            actor=admin,
            application_id=application.id,
            terms=approval_terms(daily_capacity=0),
        )


async def test_approval_lifecycle_and_illegal_moves(session, world, aarhus_standard, settings):
    approval = await approved(session, world, aarhus_standard, settings)
    admin = actor(world, "admin")
    await service.suspend_approval(session, actor=admin, approval_id=approval.id, reason="Smiley")
    assert not service.is_active(approval, service.today())
    await service.reinstate_approval(session, actor=admin, approval_id=approval.id, reason="OK")
    assert service.is_active(approval, service.today())
    with pytest.raises(InvalidInput, match="reason"):
        await service.revoke_approval(session, actor=admin, approval_id=approval.id, reason=" ")
    await service.revoke_approval(session, actor=admin, approval_id=approval.id, reason="Fraud")
    with pytest.raises(IllegalTransition) as caught:
        await service.reinstate_approval(session, actor=admin, approval_id=approval.id, reason="x")
    assert str(caught.value) == "An approval that is revoked cannot be reinstated."
    actions = (
        (
            await session.execute(
                select(AuditEvent.action)
                .where(
                    AuditEvent.entity_type == "approval", AuditEvent.entity_id == str(approval.id)
                )
                .order_by(AuditEvent.id)
            )
        )
        .scalars()
        .all()
    )
    assert actions == [
        "approval.granted",
        "approval.suspended",
        "approval.reinstated",
        "approval.revoked",
    ]


async def test_approval_past_its_validity_is_expired_not_active(
    session, world, aarhus_standard, settings
):
    today = service.today()
    approval = await approved(
        session,
        world,
        aarhus_standard,
        settings,
        valid_from=today - timedelta(days=400),
        valid_to=today - timedelta(days=1),
    )
    assert approval.status == ApprovalStatus.ACTIVE
    assert service.effective_status(approval, today) == service.EffectiveStatus.EXPIRED
    assert not service.is_active(approval, today)
    assert service.is_active(approval, today - timedelta(days=1))
    active = await service.active_approvals(
        session, municipality_id=world.municipality.id, on=today
    )
    assert active == []


async def test_other_municipality_cannot_see_or_act(session, world, aarhus_standard, settings):
    approval = await approved(session, world, aarhus_standard, settings)
    odense = actor(world, "odense_admin")
    with pytest.raises(ApplicationNotFound):
        await service.get_application(session, actor=odense, application_id=approval.application_id)
    with pytest.raises(ApprovalNotFound):
        await service.suspend_approval(session, actor=odense, approval_id=approval.id, reason="x")
    assert await service.provider_directory(session, actor=odense) == []
    assert await service.review_queue(session, actor=odense) == []


async def test_provider_can_hold_approvals_in_two_municipalities_and_reapply(
    session, world, aarhus_standard, odense_standard, settings
):
    first = await approved(session, world, aarhus_standard, settings)
    await approved(session, world, odense_standard, settings, service_area="5000")
    portal = await service.portal(session, actor=actor(world, "provider_admin"))
    assert sorted(v.municipality_name for v in portal.approvals) == [
        "Aarhus Kommune",
        "Odense Kommune",
    ]
    # A second approval in Aarhus replaces the first: one at a time.
    second = await approved(session, world, aarhus_standard, settings)
    await session.refresh(first)
    assert first.status == ApprovalStatus.REPLACED and second.status == ApprovalStatus.ACTIVE


async def test_withdraw_before_decision_only(session, world, aarhus_standard, settings):
    approval = await approved(session, world, aarhus_standard, settings)
    with pytest.raises(IllegalTransition, match="approved cannot be withdrawn"):
        await service.withdraw_application(
            session, actor=actor(world, "provider_admin"), application_id=approval.application_id
        )
    second = await submitted_application(session, world, aarhus_standard, settings)
    withdrawn = await service.withdraw_application(
        session, actor=actor(world, "provider_admin"), application_id=second.id
    )
    assert withdrawn.application.status == ApplicationStatus.WITHDRAWN


async def test_reject_needs_reasons(session, world, aarhus_standard, settings):
    application = await submitted_application(session, world, aarhus_standard, settings)
    admin = actor(world, "admin")
    with pytest.raises(InvalidInput, match="reasons"):
        await service.reject_application(
            session, actor=admin, application_id=application.id, reason=""
        )
    rejected = await service.reject_application(
        session, actor=admin, application_id=application.id, reason="Ingen smiley-rapport"
    )
    assert rejected.application.status == ApplicationStatus.REJECTED


async def test_second_draft_standard_and_second_open_application_are_conflicts(
    session, world, aarhus_standard
):
    admin = actor(world, "admin")
    await service.create_standard(session, actor=admin, data=StandardCreate(title="v2"))
    with pytest.raises(Conflict, match="still a draft"):
        await service.create_standard(session, actor=admin, data=StandardCreate(title="v3"))
    provider_admin = actor(world, "provider_admin")
    await service.start_application(
        session, actor=provider_admin, municipality_id=world.municipality.id
    )
    with pytest.raises(Conflict, match="already have an open application"):
        await service.start_application(
            session, actor=provider_admin, municipality_id=world.municipality.id
        )


async def test_no_published_standard_means_no_application(session, world):
    with pytest.raises(Conflict, match="has not published a quality standard"):
        await service.start_application(
            session,
            actor=actor(world, "provider_admin"),
            municipality_id=world.other_municipality.id,
        )
    assert publish_standard  # the fixture helper is the way to publish one


async def test_expired_approvals_are_not_asked_to_reapply(
    session, world, aarhus_standard, settings
):
    today = service.today()
    expired = await approved(
        session,
        world,
        aarhus_standard,
        settings,
        valid_from=today - timedelta(days=300),
        valid_to=today - timedelta(days=5),
    )
    admin = actor(world, "admin")
    draft = await service.create_standard(session, actor=admin, data=StandardCreate(title="v2"))
    await service.publish_standard(
        session,
        actor=admin,
        standard_id=draft.standard.id,
        reapply_by=today + timedelta(days=30),
    )
    await session.refresh(expired)
    assert expired.reapply_by is None


async def test_database_holds_one_standing_approval_per_provider_municipality_service(
    session, world, aarhus_standard, settings
):
    from sqlalchemy.exc import IntegrityError

    from providers.models import Approval

    first = await approved(session, world, aarhus_standard, settings)
    twin = Approval(**first.model_dump(exclude={"id", "application_id"}), application_id=0)
    second = await submitted_application(session, world, aarhus_standard, settings)
    twin.application_id = second.id
    with pytest.raises(IntegrityError):
        async with session.begin_nested():
            session.add(twin)
            await session.flush()


async def test_a_change_made_meanwhile_by_someone_else_is_refused_not_overwritten(
    session, world, aarhus_standard, settings
):
    from sqlalchemy import update

    application = await submitted_application(session, world, aarhus_standard, settings)
    # Another request withdrew it; this session still holds the row as submitted.
    await session.execute(
        update(Application.__table__)
        .where(Application.__table__.c.id == application.id)
        .values(status="withdrawn")
    )
    assert application.status == ApplicationStatus.SUBMITTED
    with pytest.raises(Conflict, match="changed by someone else"):
        await service.reject_application(
            session, actor=actor(world, "admin"), application_id=application.id, reason="Nej"
        )
