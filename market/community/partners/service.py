"""Associations register against the municipality's community standard and
are approved (or suspended) like a provider; their coordinator keeps the
volunteers and sees the association's own page."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from market import crypto
from market.audit import service as audit
from market.auth import repository as auth_repository
from market.auth import service as auth_service
from market.auth.models import Role, User
from market.auth.permissions import Actor, Permission
from market.community import repository
from market.community.access.service import (
    coordinator,
    first_name,
    municipality_of,
    partner_refusal,
)
from market.community.companions.service import (
    end_request,
)
from market.community.exceptions import (
    MemberNotFound,
    PartnerNotFound,
    PartnerTransitionRefused,
    StandardNotMet,
)
from market.community.models import (
    PARTNER_TRANSITIONS,
    ActivityKind,
    CommunityActivity,
    CommunityMember,
    CommunityPartner,
    CompanionRequest,
    MemberRole,
    PartnerStatus,
    SeatBooking,
)
from market.config import Settings
from market.db import utcnow
from market.errors import N_, InvalidInput
from market.lifecycle import check_transition
from market.municipalities import service as municipalities
from market.outbox import service as outbox
from market.people import repository as people_repository
from market.people import service as people_service
from market.people.models import TokenPurpose, UserToken
from vouchers import service as vouchers

# The municipality's published standard for associations: every point must be
# vouched for when the association registers (docs/community.md).
COMMUNITY_STANDARD: dict[str, str] = {
    "record_check": N_(
        "Every volunteer who visits homes has had a criminal-record check before the first visit."
    ),
    "coordinator": N_("The association has a named coordinator who answers for its volunteers."),
    "confidentiality": N_(
        "Every volunteer has agreed to the confidentiality terms: what they see and hear in a "
        "home stays there, except what they tell the municipality out of concern."
    ),
}


_MOVES = {
    "approve": PartnerStatus.APPROVED,
    "reject": PartnerStatus.REJECTED,
    "suspend": PartnerStatus.SUSPENDED,
    "reinstate": PartnerStatus.APPROVED,
}


@dataclass(frozen=True)
class PartnerRegistration:
    municipality_id: int
    name: str
    contact_email: str
    contact_phone: str
    description: str
    pledges: list[str]
    coordinator_name: str
    coordinator_email: str
    coordinator_password: str


@dataclass(frozen=True)
class Registered:
    partner: CommunityPartner
    coordinator: CommunityMember
    session_token: str | None


async def municipalities_to_choose(session: AsyncSession) -> list[tuple[int, str]]:
    return [(m.id, m.name) for m in await municipalities.list_all(session) if m.id is not None]


async def register_partner(
    session: AsyncSession, *, registration: PartnerRegistration, sign_in: Settings | None = None
) -> Registered:
    """An association signs up with its coordinator's account. It vouches for every
    point of the standard; the municipality then approves it (or not)."""
    name, email = _checked_registration(registration)
    await municipalities.get(session, municipality_id=registration.municipality_id)
    partner = await _add_partner(session, registration, name=name, email=email)
    user = await auth_service.create_user(
        session,
        actor=None,
        email=registration.coordinator_email,
        full_name=registration.coordinator_name,
        password=registration.coordinator_password,
        role=Role.COMMUNITY_COORDINATOR,
    )
    member = await _add_member(session, partner, user, MemberRole.COORDINATOR)
    assert partner.id is not None
    token = None
    if sign_in is not None:
        token = await auth_service.open_session(session, settings=sign_in, user=user)
    await audit.record(
        session,
        actor=auth_service.actor_for(user),
        action="community_partner.registered",
        entity_type="community_partner",
        entity_id=partner.id,
        municipality_id=partner.municipality_id,
        data={"name": name, "coordinator_user_id": user.id},
    )
    return Registered(partner=partner, coordinator=member, session_token=token)


def _checked_registration(r: PartnerRegistration) -> tuple[str, str]:
    """Every pledge given, a name and a contact address: (name, e-mail)."""
    if set(r.pledges) != set(COMMUNITY_STANDARD):
        raise StandardNotMet()
    name = r.name.strip()
    if not name or len(name) > 200:
        raise InvalidInput(N_("Please give the association's name (at most 200 characters)."))
    email = r.contact_email.strip()
    if "@" not in email or len(email) > 254:
        raise InvalidInput(N_("Please give an e-mail address the municipality can write to."))
    return name, email


async def _add_partner(
    session: AsyncSession, r: PartnerRegistration, *, name: str, email: str
) -> CommunityPartner:
    partner: CommunityPartner = await repository.add(
        session,
        CommunityPartner(
            municipality_id=r.municipality_id,
            name=name,
            contact_email=email,
            contact_phone=r.contact_phone.strip()[:32],
            description=r.description.strip()[:2000],
            pledges=",".join(sorted(r.pledges)),
        ),
    )
    return partner


async def _add_member(
    session: AsyncSession, partner: CommunityPartner, user: User, role: MemberRole
) -> CommunityMember:
    assert partner.id is not None and user.id is not None
    member: CommunityMember = await repository.add(
        session,
        CommunityMember(
            partner_id=partner.id,
            user_id=user.id,
            role=role,
            first_name=first_name(user.full_name),
        ),
    )
    return member


async def partners(session: AsyncSession, *, actor: Actor) -> list[CommunityPartner]:
    municipality_id = municipality_of(actor, Permission.COMMUNITY_FIGURES_VIEW)
    return list(await repository.partners_of(session, municipality_id))


async def decide_partner(
    session: AsyncSession, *, actor: Actor, partner_id: int, move: str, note: str = ""
) -> CommunityPartner:
    """Approve, reject, suspend or reinstate an association (as a provider's approval)."""
    municipality_id = municipality_of(actor, Permission.COMMUNITY_PARTNER_REVIEW)
    partner = await repository.get_partner(session, partner_id)
    if partner is None or partner.municipality_id != municipality_id:
        raise PartnerNotFound()
    wanted = _MOVES.get(move)
    if wanted is None:
        raise InvalidInput(N_("Choose approve, reject, suspend or reinstate."))
    # Approving and rejecting decide an application; reinstating ends a suspension.
    needs = PartnerStatus.SUSPENDED if move == "reinstate" else None
    if move in ("approve", "reject"):
        needs = PartnerStatus.APPLIED
    if needs is not None and partner.status != needs:
        raise PartnerTransitionRefused(partner.status.value, wanted.value)
    check_transition(PARTNER_TRANSITIONS, partner.status, wanted, partner_refusal)
    before = partner.status
    if not await repository.move_partner(
        session,
        partner_id=partner_id,
        current=before,
        values={
            "status": wanted,
            "decided_at": utcnow(),
            "decided_by_user_id": actor.user_id,
            "decision_note": note.strip()[:500],
        },
    ):
        raise PartnerTransitionRefused(before.value, wanted.value)
    await session.refresh(partner)
    await audit.record(
        session,
        actor=actor,
        action=f"community_partner.{move}",
        entity_type="community_partner",
        entity_id=partner_id,
        municipality_id=municipality_id,
        data={"from": before, "to": wanted},
    )
    return partner


@dataclass(frozen=True)
class RequestLine:
    request: CompanionRequest
    citizen_first_name: str
    volunteer: CommunityMember | None


@dataclass(frozen=True)
class CoordinatorView:
    partner: CommunityPartner
    volunteers: list[CommunityMember]
    activities: list[CommunityActivity]
    requests: list[RequestLine]
    bookings: dict[int, list[tuple[SeatBooking, str]]]


async def coordinator_view(session: AsyncSession, *, actor: Actor) -> CoordinatorView:
    """The association's own page: its volunteers, activities and requests. A
    coordinator sees a citizen's first name and area, nothing more, until a match."""
    _, partner = await coordinator(session, actor)
    assert partner.id is not None
    members = list(await repository.members_of(session, partner.id))
    requests = list(await repository.requests_of_partner(session, partner.id))
    activities = list(await repository.activities_of_partner(session, partner.id))
    bookings_by_activity = {
        a.id: list(await repository.bookings_of_activity(session, a.id))
        for a in activities
        if a.id is not None and a.kind == ActivityKind.SHARED_MEAL
    }
    citizen_ids = {r.citizen_id for r in requests} | {
        b.citizen_id for bs in bookings_by_activity.values() for b in bs
    }
    citizens = await vouchers.citizens_by_ids(session, citizen_ids=sorted(citizen_ids))
    by_id = {m.id: m for m in members}
    return CoordinatorView(
        partner=partner,
        volunteers=[m for m in members if m.role == MemberRole.VOLUNTEER],
        activities=activities,
        requests=[
            RequestLine(
                request=r,
                citizen_first_name=first_name(citizens[r.citizen_id].full_name),
                volunteer=by_id.get(r.volunteer_member_id) if r.volunteer_member_id else None,
            )
            for r in requests
        ],
        bookings={
            activity_id: [(b, first_name(citizens[b.citizen_id].full_name)) for b in bs]
            for activity_id, bs in bookings_by_activity.items()
        },
    )


@dataclass(frozen=True)
class VolunteerAdded:
    member: CommunityMember
    # The single-use link to choose a password (also e-mailed); None with a password.
    link: str | None


async def add_volunteer(
    session: AsyncSession,
    *,
    actor: Actor,
    full_name: str,
    email: str,
    settings: Settings,
    password: str | None = None,
) -> VolunteerAdded:
    """A volunteer's account. Without a password they get an invitation link by
    e-mail (the same single-use link staff are invited with) to choose one."""
    _, partner = await coordinator(session, actor)
    user = await auth_service.create_user(
        session,
        actor=actor,
        email=email,
        full_name=full_name,
        password=password,
        role=Role.VOLUNTEER,
    )
    assert user.id is not None
    member = await _add_member(session, partner, user, MemberRole.VOLUNTEER)
    assert member.id is not None
    url = None
    if password is None:
        url = await _invite(session, actor=actor, partner=partner, user=user, settings=settings)
    await audit.record(
        session,
        actor=actor,
        action="community_member.added",
        entity_type="community_member",
        entity_id=member.id,
        municipality_id=partner.municipality_id,
        data={"partner_id": partner.id, "user_id": user.id},
    )
    return VolunteerAdded(member=member, link=url)


async def _invite(
    session: AsyncSession,
    *,
    actor: Actor,
    partner: CommunityPartner,
    user: User,
    settings: Settings,
) -> str:
    """A fresh single-use invitation link for the volunteer, also e-mailed."""
    assert user.id is not None
    token = crypto.new_token()
    await people_repository.delete_open_tokens(session, user.id, TokenPurpose.INVITATION)
    await people_repository.add_token(
        session,
        UserToken(
            purpose=TokenPurpose.INVITATION,
            token_hash=crypto.token_hash(token),
            user_id=user.id,
            created_by_user_id=actor.user_id,
            expires_at=utcnow() + timedelta(hours=settings.invitation_valid_hours),
        ),
    )
    url = people_service.link(settings, TokenPurpose.INVITATION, token)
    await outbox.enqueue_email(
        session,
        settings=settings,
        idempotency_key=f"invitation:{user.id}:{crypto.new_token(nbytes=8)}",
        to=[user.email],
        subject="Invitation til Velfærdsmarked / Invitation to Velfærdsmarked",
        body=(
            f"{partner.name} har gjort dig til frivillig i Velfærdsmarked.\n"
            f"Åbn linket og vælg en adgangskode:\n{url}\n\n"
            f"{partner.name} added you as a volunteer in Velfærdsmarked.\n"
            f"Open the link and choose a password:\n{url}\n"
        ),
    )
    return url


async def remove_volunteer(
    session: AsyncSession, *, actor: Actor, member_id: int, now: datetime | None = None
) -> None:
    """The account closes at once and every match ends: access ends with them."""
    now = now or utcnow()
    _, partner = await coordinator(session, actor)
    member = await repository.get_member(session, member_id)
    if (
        member is None
        or member.partner_id != partner.id
        or member.role != MemberRole.VOLUNTEER
        or not member.active
    ):
        raise MemberNotFound()
    await repository.remove_member(session, member_id, now)
    await people_repository.set_user(session, member.user_id, is_active=False)
    await auth_repository.delete_sessions_of(session, member.user_id)
    for request in await repository.open_requests_of_volunteer(session, member_id):
        await end_request(session, request, now)
    await audit.record(
        session,
        actor=actor,
        action="community_member.removed",
        entity_type="community_member",
        entity_id=member_id,
        municipality_id=partner.municipality_id,
        data={"partner_id": partner.id},
    )
