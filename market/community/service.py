"""The rules of co-production. Associations register against the municipality's
community standard and are approved (or suspended) like a provider; their
coordinator publishes activities and matches volunteers with citizens who asked
for a meal companion; volunteers see only what a visit needs; a seat at a
shared meal may skip that day's home delivery, released through orders'
own cancellation (before the kitchen's cut-off, so nothing is charged)."""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from market import crypto
from market.audit import service as audit
from market.auth import repository as auth_repository
from market.auth import service as auth_service
from market.auth.models import Role
from market.auth.permissions import Actor, Permission
from market.clock import COPENHAGEN
from market.community import repository
from market.community.exceptions import (
    ActivityNotFound,
    AlreadyAsked,
    AlreadyBooked,
    BookingNotFound,
    MemberNotFound,
    NoSeatsLeft,
    NotAMember,
    PartnerNotApproved,
    PartnerNotFound,
    PartnerTransitionRefused,
    RequestNotFound,
    RequestTransitionRefused,
    SeatTransitionRefused,
    StandardNotMet,
    TooLateToSkip,
    VisitNotFound,
    VisitNotToday,
    VisitTransitionRefused,
)
from market.community.models import (
    PARTNER_TRANSITIONS,
    REQUEST_TRANSITIONS,
    SEAT_TRANSITIONS,
    VISIT_TRANSITIONS,
    VOLUNTEER_SEES,
    ActivityKind,
    CommunityActivity,
    CommunityMember,
    CommunityPartner,
    CommunityVisit,
    CompanionRequest,
    MemberRole,
    PartnerStatus,
    RequestStatus,
    SeatBooking,
    SeatStatus,
    VisitStatus,
)
from market.config import Settings
from market.db import utcnow
from market.errors import N_, AppError, InvalidInput, PermissionDenied
from market.lifecycle import check_transition
from market.municipalities import service as municipalities
from market.orders import service as orders
from market.outbox import service as outbox
from market.people import repository as people_repository
from market.people import service as people_service
from market.people.models import TokenPurpose, UserToken
from vouchers import service as vouchers
from vouchers.models import Citizen

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
# What a volunteer may tick after a visit. The codes the driver uses too go to the
# note's codes; the others are written into the note as words (in Danish, the
# case worker's working language).
VISIT_OBSERVATIONS: dict[str, str] = {
    "lonely": N_("Seems lonely"),
    "not_eaten": N_("Has not eaten"),
    "confused": N_("Seems confused"),
    "fall": N_("Has fallen"),
}
_SHARED_CODES = ("confused", "fall")
_NOTE_WORDS = {"lonely": "virker ensom", "not_eaten": "har ikke spist"}
PLAN_DAYS_AHEAD = 14
MAX_SEATS = 500

_MOVES = {
    "approve": PartnerStatus.APPROVED,
    "reject": PartnerStatus.REJECTED,
    "suspend": PartnerStatus.SUSPENDED,
    "reinstate": PartnerStatus.APPROVED,
}


def _today(now: datetime) -> date:
    return now.astimezone(COPENHAGEN).date()


def _weekdays(values: list[int] | list[str] | None) -> str:
    days = sorted({int(v) for v in values or [] if str(v).strip()})
    if any(d < 1 or d > 7 for d in days):
        raise InvalidInput(N_("Choose weekdays from Monday to Sunday."))
    return ",".join(str(d) for d in days)


def weekday_numbers(text: str) -> list[int]:
    return [int(d) for d in text.split(",") if d]


def first_name(full_name: str) -> str:
    return full_name.split()[0] if full_name.strip() else ""


# --- associations register and are approved -----------------------------------------


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
    r = registration
    if set(r.pledges) != set(COMMUNITY_STANDARD):
        raise StandardNotMet()
    name = r.name.strip()
    if not name or len(name) > 200:
        raise InvalidInput(N_("Please give the association's name (at most 200 characters)."))
    email = r.contact_email.strip()
    if "@" not in email or len(email) > 254:
        raise InvalidInput(N_("Please give an e-mail address the municipality can write to."))
    await municipalities.get(session, municipality_id=r.municipality_id)
    partner = await repository.add(
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
    user = await auth_service.create_user(
        session,
        actor=None,
        email=r.coordinator_email,
        full_name=r.coordinator_name,
        password=r.coordinator_password,
        role=Role.COMMUNITY_COORDINATOR,
    )
    member = await repository.add(
        session,
        CommunityMember(
            partner_id=partner.id,
            user_id=user.id,
            role=MemberRole.COORDINATOR,
            first_name=first_name(user.full_name),
        ),
    )
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


def _municipality_of(actor: Actor, permission: Permission) -> int:
    if not actor.can(permission) or actor.municipality_id is None:
        raise PermissionDenied(N_("Only the municipality's staff may do this."))
    return actor.municipality_id


async def partners(session: AsyncSession, *, actor: Actor) -> list[CommunityPartner]:
    municipality_id = _municipality_of(actor, Permission.COMMUNITY_FIGURES_VIEW)
    return list(await repository.partners_of(session, municipality_id))


async def decide_partner(
    session: AsyncSession, *, actor: Actor, partner_id: int, move: str, note: str = ""
) -> CommunityPartner:
    """Approve, reject, suspend or reinstate an association (as a provider's approval)."""
    municipality_id = _municipality_of(actor, Permission.COMMUNITY_PARTNER_REVIEW)
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
    check_transition(PARTNER_TRANSITIONS, partner.status, wanted, _partner_refusal)
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


def _partner_refusal(current: PartnerStatus, wanted: PartnerStatus) -> PartnerTransitionRefused:
    return PartnerTransitionRefused(current.value, wanted.value)


def _request_refusal(current: RequestStatus, wanted: RequestStatus) -> RequestTransitionRefused:
    return RequestTransitionRefused(current.value, wanted.value)


def _visit_refusal(current: VisitStatus, wanted: VisitStatus) -> VisitTransitionRefused:
    return VisitTransitionRefused(current.value, wanted.value)


def _seat_refusal(current: SeatStatus, wanted: SeatStatus) -> SeatTransitionRefused:
    return SeatTransitionRefused(current.value, wanted.value)


# --- the partner's side: coordinator ---------------------------------------------------


async def _membership(
    session: AsyncSession, actor: Actor, permission: Permission
) -> tuple[CommunityMember, CommunityPartner]:
    if not actor.can(permission):
        raise PermissionDenied(N_("Only an association's own people may do this."))
    member = await repository.member_of_user(session, actor.user_id)
    if member is None:
        raise NotAMember()
    partner = await repository.get_partner(session, member.partner_id)
    assert partner is not None
    return member, partner


async def _coordinator(
    session: AsyncSession, actor: Actor, *, approved: bool = False
) -> tuple[CommunityMember, CommunityPartner]:
    member, partner = await _membership(session, actor, Permission.COMMUNITY_COORDINATE)
    if member.role != MemberRole.COORDINATOR:
        raise NotAMember()
    if approved and partner.status != PartnerStatus.APPROVED:
        raise PartnerNotApproved()
    return member, partner


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
    _, partner = await _coordinator(session, actor)
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
class ActivityInput:
    kind: str
    title: str
    description: str = ""
    place: str = ""
    postal_code: str = ""
    held_on: date | None = None
    starts_at: time | None = None
    weekdays: list[int] = field(default_factory=list)
    seats: int = 0
    transport: bool = False


async def create_activity(
    session: AsyncSession, *, actor: Actor, activity: ActivityInput, now: datetime | None = None
) -> CommunityActivity:
    _, partner = await _coordinator(session, actor, approved=True)
    try:
        kind = ActivityKind(activity.kind)
    except ValueError as exc:
        raise InvalidInput(N_("Choose a meal companion or a shared meal.")) from exc
    title = activity.title.strip()
    if not title or len(title) > 200:
        raise InvalidInput(N_("Please give the activity a name (at most 200 characters)."))
    postal = activity.postal_code.strip()
    if postal and (len(postal) != 4 or not postal.isdigit()):
        raise InvalidInput(N_("A postal code has four digits."))
    values: dict[str, Any] = {
        "partner_id": partner.id,
        "municipality_id": partner.municipality_id,
        "kind": kind,
        "title": title,
        "description": activity.description.strip()[:2000],
        "place": activity.place.strip()[:200],
        "postal_code": postal,
        "transport": activity.transport,
    }
    if kind == ActivityKind.SHARED_MEAL:
        today = _today(now or utcnow())
        if activity.held_on is None or activity.held_on <= today:
            raise InvalidInput(N_("A shared meal needs a day after today."))
        if activity.starts_at is None:
            raise InvalidInput(N_("Please give the time the meal starts."))
        if not 1 <= activity.seats <= MAX_SEATS:
            raise InvalidInput(N_("Give between 1 and 500 seats."))
        if not values["place"]:
            raise InvalidInput(N_("Please say where the meal is held."))
        values |= {"held_on": activity.held_on, "starts_at": activity.starts_at}
        values["seats"] = activity.seats
    else:
        values["weekdays"] = _weekdays(activity.weekdays)
    row = await repository.add(session, CommunityActivity(**values))
    await audit.record(
        session,
        actor=actor,
        action="community_activity.created",
        entity_type="community_activity",
        entity_id=row.id,
        municipality_id=partner.municipality_id,
        data={"kind": kind, "partner_id": partner.id},
    )
    return row


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
    _, partner = await _coordinator(session, actor)
    user = await auth_service.create_user(
        session,
        actor=actor,
        email=email,
        full_name=full_name,
        password=password,
        role=Role.VOLUNTEER,
    )
    assert user.id is not None
    member = await repository.add(
        session,
        CommunityMember(
            partner_id=partner.id,
            user_id=user.id,
            role=MemberRole.VOLUNTEER,
            first_name=first_name(user.full_name),
        ),
    )
    url = None
    if password is None:
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


async def remove_volunteer(
    session: AsyncSession, *, actor: Actor, member_id: int, now: datetime | None = None
) -> None:
    """The account closes at once and every match ends: access ends with them."""
    now = now or utcnow()
    _, partner = await _coordinator(session, actor)
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
        await _end(session, request, now)
    await audit.record(
        session,
        actor=actor,
        action="community_member.removed",
        entity_type="community_member",
        entity_id=member_id,
        municipality_id=partner.municipality_id,
        data={"partner_id": partner.id},
    )


async def _end(session: AsyncSession, request: CompanionRequest, now: datetime) -> None:
    assert request.id is not None
    check_transition(REQUEST_TRANSITIONS, request.status, RequestStatus.ENDED, _request_refusal)
    if not await repository.move_request(
        session,
        request_id=request.id,
        current=request.status,
        values={"status": RequestStatus.ENDED, "ended_at": now},
    ):
        raise RequestTransitionRefused(request.status.value, RequestStatus.ENDED.value)
    await repository.cancel_planned_visits(session, request.id, _today(now))


async def propose_volunteer(
    session: AsyncSession, *, actor: Actor, request_id: int, member_id: int
) -> CompanionRequest:
    _, partner = await _coordinator(session, actor, approved=True)
    request = await repository.get_request(session, request_id)
    if request is None or request.partner_id != partner.id:
        raise RequestNotFound()
    member = await repository.get_member(session, member_id)
    if (
        member is None
        or member.partner_id != partner.id
        or member.role != MemberRole.VOLUNTEER
        or not member.active
    ):
        raise MemberNotFound()
    check_transition(REQUEST_TRANSITIONS, request.status, RequestStatus.PROPOSED, _request_refusal)
    if not await repository.move_request(
        session,
        request_id=request_id,
        current=request.status,
        values={
            "status": RequestStatus.PROPOSED,
            "volunteer_member_id": member_id,
            "proposed_at": utcnow(),
        },
    ):
        raise RequestTransitionRefused(request.status.value, RequestStatus.PROPOSED.value)
    await session.refresh(request)
    await audit.record(
        session,
        actor=actor,
        action="companion_request.proposed",
        entity_type="companion_request",
        entity_id=request_id,
        municipality_id=request.municipality_id,
        data={"member_id": member_id},
    )
    return request


async def end_match_by_partner(
    session: AsyncSession, *, actor: Actor, request_id: int, now: datetime | None = None
) -> None:
    _, partner = await _coordinator(session, actor)
    request = await repository.get_request(session, request_id)
    if request is None or request.partner_id != partner.id:
        raise RequestNotFound()
    await _end(session, request, now or utcnow())
    await audit.record(
        session,
        actor=actor,
        action="companion_request.ended",
        entity_type="companion_request",
        entity_id=request_id,
        municipality_id=request.municipality_id,
    )


async def mark_attended(session: AsyncSession, *, actor: Actor, booking_id: int) -> None:
    """The seat was used (the partner ticks who came): the figures count it."""
    _, partner = await _coordinator(session, actor)
    booking = await repository.get_booking(session, booking_id)
    if booking is None:
        raise BookingNotFound()
    activity = await repository.get_activity(session, booking.activity_id)
    if activity is None or activity.partner_id != partner.id:
        raise BookingNotFound()
    check_transition(SEAT_TRANSITIONS, booking.status, SeatStatus.ATTENDED, _seat_refusal)
    if not await repository.move_booking(
        session,
        booking_id=booking_id,
        current=booking.status,
        values={"status": SeatStatus.ATTENDED},
    ):
        raise SeatTransitionRefused(booking.status.value, SeatStatus.ATTENDED.value)
    await audit.record(
        session,
        actor=actor,
        action="seat_booking.attended",
        entity_type="seat_booking",
        entity_id=booking_id,
        municipality_id=booking.municipality_id,
    )


# --- the citizen's side (also a linked relative and the case worker) -------------------


@dataclass(frozen=True)
class ActivityLine:
    activity: CommunityActivity
    partner: CommunityPartner

    @property
    def seats_left(self) -> int:
        return max(0, self.activity.seats - self.activity.seats_taken)


@dataclass(frozen=True)
class CitizenRequest:
    request: CompanionRequest
    partner_name: str
    volunteer_first_name: str | None
    visits: list[CommunityVisit]


@dataclass(frozen=True)
class CommunityView:
    citizen: Citizen | None
    choices: list[Citizen]
    activities: list[ActivityLine]
    requests: list[CitizenRequest]
    bookings: list[tuple[SeatBooking, CommunityActivity]]


async def _whom(
    session: AsyncSession, actor: Actor, citizen_id: int | None
) -> tuple[Citizen | None, list[Citizen], Actor]:
    if not actor.can(Permission.COMMUNITY_TAKE_PART):
        raise PermissionDenied(N_("Only the citizen, a linked relative or the case worker may."))
    if actor.role in (Role.CITIZEN, Role.PROXY):
        view = await vouchers.my_voucher(session, actor=actor, citizen_id=citizen_id, weeks_ahead=0)
        if view.citizen is None or view.citizen.id is None:
            return None, view.choices, actor
        acting = await vouchers.acting_for_citizen(session, actor=actor, citizen_id=view.citizen.id)
        return view.citizen, view.choices, acting
    citizen, acting = await vouchers.citizen_for_ordering(
        session, actor=actor, citizen_id=citizen_id
    )
    return citizen, [], acting


async def _citizen(session: AsyncSession, actor: Actor, citizen_id: int) -> tuple[Citizen, Actor]:
    citizen, _, acting = await _whom(session, actor, citizen_id)
    if citizen is None:
        raise RequestNotFound()
    return citizen, acting


async def community_view(
    session: AsyncSession, *, actor: Actor, citizen_id: int | None, now: datetime | None = None
) -> CommunityView:
    today = _today(now or utcnow())
    citizen, choices, _ = await _whom(session, actor, citizen_id)
    if citizen is None or citizen.id is None:
        return CommunityView(None, choices, [], [], [])
    found = await repository.open_activities(
        session, citizen.municipality_id, from_day=today + timedelta(days=1)
    )
    return CommunityView(
        citizen=citizen,
        choices=choices,
        activities=[ActivityLine(activity=a, partner=p) for a, p in found],
        requests=await _requests_of(session, citizen.id, today),
        bookings=[
            (b, a)
            for b, a in await repository.bookings_of_citizen(session, citizen.id)
            if a.held_on is not None and a.held_on >= today
        ],
    )


async def _requests_of(session: AsyncSession, citizen_id: int, today: date) -> list[CitizenRequest]:
    requests = list(await repository.requests_of_citizen(session, citizen_id))
    visits = await repository.visits_of_requests(
        session, [r.id for r in requests if r.id is not None], from_day=today
    )
    lines = []
    for r in requests:
        partner = await repository.get_partner(session, r.partner_id)
        member = (
            await repository.get_member(session, r.volunteer_member_id)
            if r.volunteer_member_id
            else None
        )
        lines.append(
            CitizenRequest(
                request=r,
                partner_name=partner.name if partner else "",
                volunteer_first_name=member.first_name if member else None,
                visits=[
                    v for v in visits if v.request_id == r.id and v.status == VisitStatus.PLANNED
                ],
            )
        )
    return lines


async def _open_activity(
    session: AsyncSession, activity_id: int, citizen: Citizen, kind: ActivityKind
) -> tuple[CommunityActivity, CommunityPartner]:
    activity = await repository.get_activity(session, activity_id)
    if (
        activity is None
        or not activity.active
        or activity.kind != kind
        or activity.municipality_id != citizen.municipality_id
    ):
        raise ActivityNotFound()
    partner = await repository.get_partner(session, activity.partner_id)
    if partner is None or partner.status != PartnerStatus.APPROVED:
        raise ActivityNotFound()
    return activity, partner


async def ask_for_companion(
    session: AsyncSession,
    *,
    actor: Actor,
    citizen_id: int,
    activity_id: int,
    weekdays: list[int],
    wishes: str = "",
) -> CompanionRequest:
    citizen, acting = await _citizen(session, actor, citizen_id)
    activity, partner = await _open_activity(session, activity_id, citizen, ActivityKind.COMPANION)
    assert citizen.id is not None and partner.id is not None
    if await repository.open_request_of_citizen(session, citizen.id, partner.id) is not None:
        raise AlreadyAsked()
    request = await repository.add(
        session,
        CompanionRequest(
            municipality_id=citizen.municipality_id,
            partner_id=partner.id,
            activity_id=activity.id,
            citizen_id=citizen.id,
            postal_code=citizen.postal_code,
            weekdays=_weekdays(weekdays) or activity.weekdays,
            wishes=wishes.strip()[:500],
            asked_by_user_id=acting.user_id,
        ),
    )
    await audit.record(
        session,
        actor=acting,
        action="companion_request.asked",
        entity_type="companion_request",
        entity_id=request.id,
        municipality_id=citizen.municipality_id,
        data={"partner_id": partner.id, "citizen_id": citizen.id},
    )
    return request


async def _citizen_request(
    session: AsyncSession, actor: Actor, request_id: int
) -> tuple[CompanionRequest, Actor]:
    request = await repository.get_request(session, request_id)
    if request is None:
        raise RequestNotFound()
    try:
        _, acting = await _citizen(session, actor, request.citizen_id)
    except AppError as exc:  # not this actor's citizen: nothing to see
        if exc.status_code in (403, 404, 422):
            raise RequestNotFound() from exc
        raise
    return request, acting


async def answer_proposal(
    session: AsyncSession,
    *,
    actor: Actor,
    request_id: int,
    accept: bool,
    observations_consented: bool = False,
    now: datetime | None = None,
) -> CompanionRequest:
    """The citizen accepts (visits are planned on the agreed weekdays when a meal
    is ordered) or declines (the coordinator may propose someone else)."""
    now = now or utcnow()
    request, acting = await _citizen_request(session, actor, request_id)
    wanted = RequestStatus.MATCHED if accept else RequestStatus.ASKED
    check_transition(REQUEST_TRANSITIONS, request.status, wanted, _request_refusal)
    if accept and not observations_consented:
        raise InvalidInput(
            N_(
                "Please confirm that you know the volunteer may tell your case worker if "
                "something seems wrong."
            )
        )
    values: dict[str, Any] = {"status": wanted}
    if accept:
        values |= {"matched_at": now, "observations_consented": True}
    else:
        values |= {"volunteer_member_id": None, "proposed_at": None}
    if not await repository.move_request(
        session, request_id=request_id, current=request.status, values=values
    ):
        raise RequestTransitionRefused(request.status.value, wanted.value)
    await session.refresh(request)
    if accept:
        await _plan_visits(session, acting, request, now)
    await audit.record(
        session,
        actor=acting,
        action="companion_request.accepted" if accept else "companion_request.declined",
        entity_type="companion_request",
        entity_id=request_id,
        municipality_id=request.municipality_id,
    )
    return request


async def _plan_visits(
    session: AsyncSession, acting: Actor, request: CompanionRequest, now: datetime
) -> int:
    """A visit on each agreed weekday of the coming two weeks on which the
    citizen has a meal ordered (the companion comes at mealtime)."""
    assert request.id is not None
    today = _today(now)
    days = set(weekday_numbers(request.weekdays))
    mine = await orders.my_orders(session, actor=acting, citizen_id=request.citizen_id, now=now)
    ordered = {
        line.order.delivery_on
        for line in mine.upcoming
        if today <= line.order.delivery_on <= today + timedelta(days=PLAN_DAYS_AHEAD)
    }
    planned = await repository.visit_days(session, request.id)
    count = 0
    for day in sorted(ordered - planned):
        if days and day.isoweekday() not in days:
            continue
        await repository.add(session, CommunityVisit(request_id=request.id, visit_on=day))
        count += 1
    return count


async def plan_visits(
    session: AsyncSession, *, actor: Actor, request_id: int, now: datetime | None = None
) -> int:
    """Plans visits for meals ordered since the match (the citizen's side)."""
    now = now or utcnow()
    request, acting = await _citizen_request(session, actor, request_id)
    if request.status != RequestStatus.MATCHED:
        raise RequestTransitionRefused(request.status.value, RequestStatus.MATCHED.value)
    return await _plan_visits(session, acting, request, now)


async def end_match_by_citizen(
    session: AsyncSession, *, actor: Actor, request_id: int, now: datetime | None = None
) -> None:
    request, acting = await _citizen_request(session, actor, request_id)
    await _end(session, request, now or utcnow())
    await audit.record(
        session,
        actor=acting,
        action="companion_request.ended",
        entity_type="companion_request",
        entity_id=request_id,
        municipality_id=request.municipality_id,
    )


@dataclass(frozen=True)
class Booked:
    booking: SeatBooking
    skipped_orders: list[int]


async def book_seat(
    session: AsyncSession,
    *,
    actor: Actor,
    citizen_id: int,
    activity_id: int,
    skip_delivery: bool = False,
    now: datetime | None = None,
) -> Booked:
    """A seat at a shared meal, like an order: one conditional UPDATE keeps the
    seats. With ``skip_delivery`` that day's home delivery is cancelled through
    orders' own cancellation, which before the cut-off releases the voucher
    units and the kitchen's capacity exactly and charges nothing."""
    now = now or utcnow()
    citizen, acting = await _citizen(session, actor, citizen_id)
    activity, _ = await _open_activity(session, activity_id, citizen, ActivityKind.SHARED_MEAL)
    assert citizen.id is not None and activity.id is not None and activity.held_on is not None
    if activity.held_on <= _today(now):
        raise ActivityNotFound()
    if await repository.booking_of(session, activity.id, citizen.id) is not None:
        raise AlreadyBooked()
    skipped: list[int] = []
    if skip_delivery:
        skipped = await skip_delivery_for_shared_meal(
            session, actor=acting, citizen_id=citizen.id, day=activity.held_on, now=now
        )
    if not await repository.take_seat(session, activity.id):
        raise NoSeatsLeft()
    booking = await repository.add(
        session,
        SeatBooking(
            activity_id=activity.id,
            citizen_id=citizen.id,
            municipality_id=citizen.municipality_id,
            postal_code=citizen.postal_code,
            booked_by_user_id=acting.user_id,
            skipped_order_ids=",".join(str(i) for i in skipped),
        ),
    )
    await audit.record(
        session,
        actor=acting,
        action="seat_booking.booked",
        entity_type="seat_booking",
        entity_id=booking.id,
        municipality_id=citizen.municipality_id,
        data={"activity_id": activity.id, "skipped_orders": skipped},
    )
    return Booked(booking=booking, skipped_orders=skipped)


async def skip_delivery_for_shared_meal(
    session: AsyncSession, *, actor: Actor, citizen_id: int, day: date, now: datetime
) -> list[int]:
    """ "Skipped for a shared meal, no charge": the day's home deliveries are
    cancelled with orders.cancel_order, and only while that is free (before each
    order's cut-off); after it the kitchen has cooked and it is refused."""
    mine = await orders.my_orders(session, actor=actor, citizen_id=citizen_id, now=now)
    todays = [line for line in mine.upcoming if line.order.delivery_on == day]
    if any(not line.can_cancel or now >= line.order.cutoff_at for line in todays):
        raise TooLateToSkip()
    skipped = []
    for line in todays:
        assert line.order.id is not None
        await orders.cancel_order(session, actor=actor, order_id=line.order.id, now=now)
        skipped.append(line.order.id)
    return skipped


async def cancel_booking(
    session: AsyncSession, *, actor: Actor, booking_id: int, now: datetime | None = None
) -> SeatBooking:
    booking = await repository.get_booking(session, booking_id)
    if booking is None:
        raise BookingNotFound()
    try:
        _, acting = await _citizen(session, actor, booking.citizen_id)
    except AppError as exc:  # not this actor's citizen: nothing to see
        if exc.status_code in (403, 404, 422):
            raise BookingNotFound() from exc
        raise
    check_transition(SEAT_TRANSITIONS, booking.status, SeatStatus.CANCELLED, _seat_refusal)
    if not await repository.move_booking(
        session,
        booking_id=booking_id,
        current=booking.status,
        values={"status": SeatStatus.CANCELLED, "cancelled_at": now or utcnow()},
    ):
        raise SeatTransitionRefused(booking.status.value, SeatStatus.CANCELLED.value)
    await repository.give_back_seat(session, booking.activity_id)
    await session.refresh(booking)
    await audit.record(
        session,
        actor=acting,
        action="seat_booking.cancelled",
        entity_type="seat_booking",
        entity_id=booking_id,
        municipality_id=booking.municipality_id,
    )
    return booking


@dataclass(frozen=True)
class MyOrdersSection:
    """What "my orders" shows of co-production: visits planned and seats booked."""

    visits: list[tuple[CommunityVisit, str]]
    seats: list[tuple[SeatBooking, CommunityActivity]]


async def my_orders_section(
    session: AsyncSession, *, citizen_id: int, now: datetime | None = None
) -> MyOrdersSection:
    """Called by the "my orders" page for the citizen it has already checked."""
    today = _today(now or utcnow())
    requests = await _requests_of(session, citizen_id, today)
    visits = [
        (v, r.volunteer_first_name or "")
        for r in requests
        if r.request.status == RequestStatus.MATCHED
        for v in r.visits
    ]
    seats = [
        (b, a)
        for b, a in await repository.bookings_of_citizen(session, citizen_id)
        if b.status == SeatStatus.BOOKED and a.held_on is not None and a.held_on >= today
    ]
    return MyOrdersSection(visits=sorted(visits, key=lambda v: v[0].visit_on), seats=seats)


# --- the volunteer: only their matches, only what a visit needs -------------------------


@dataclass(frozen=True)
class Match:
    """What a volunteer sees of a citizen: never a CPR number, a grant or anyone else."""

    request_id: int
    first_name: str
    address: str
    postal_code: str
    door_notes: str
    allergies: list[str]
    weekdays: list[int]
    visits: list[CommunityVisit]


async def _volunteer(session: AsyncSession, actor: Actor) -> CommunityMember:
    member, _ = await _membership(session, actor, Permission.COMMUNITY_VISIT)
    if member.role != MemberRole.VOLUNTEER:
        raise NotAMember()
    return member


async def volunteer_matches(
    session: AsyncSession, *, actor: Actor, now: datetime | None = None
) -> list[Match]:
    member = await _volunteer(session, actor)
    assert member.id is not None
    today = _today(now or utcnow())
    requests = list(await repository.matches_of_volunteer(session, member.id))
    citizens = await vouchers.citizens_by_ids(
        session, citizen_ids=sorted({r.citizen_id for r in requests})
    )
    visits = await repository.visits_of_requests(
        session, [r.id for r in requests if r.id is not None], from_day=today - timedelta(days=7)
    )
    out = []
    for r in requests:
        assert r.id is not None
        c = citizens[r.citizen_id]
        out.append(
            Match(
                request_id=r.id,
                first_name=first_name(c.full_name),
                address=c.address,
                postal_code=c.postal_code,
                door_notes=c.door_notes,
                # A meal companion eats with the citizen: allergies matter.
                allergies=list(c.allergies),
                weekdays=weekday_numbers(r.weekdays),
                visits=[v for v in visits if v.request_id == r.id],
            )
        )
    return out


async def record_visit(
    session: AsyncSession,
    *,
    actor: Actor,
    visit_id: int,
    observations: list[str],
    text: str,
    now: datetime | None = None,
) -> CommunityVisit:
    """The visit was held. An observation (optional; the citizen was told at
    acceptance) becomes the everyday welfare note that reaches the case worker."""
    now = now or utcnow()
    member = await _volunteer(session, actor)
    visit = await repository.get_visit(session, visit_id)
    request = await repository.get_request(session, visit.request_id) if visit else None
    if (
        visit is None
        or request is None
        or request.volunteer_member_id != member.id
        or request.status not in VOLUNTEER_SEES
    ):
        raise VisitNotFound()
    seen = [o for o in observations if o]
    if any(o not in VISIT_OBSERVATIONS for o in seen):
        raise InvalidInput(N_("That observation is not on the list; write it as text instead."))
    text = text.strip()[:2000]
    check_transition(VISIT_TRANSITIONS, visit.status, VisitStatus.HELD, _visit_refusal)
    if visit.visit_on > _today(now):
        raise VisitNotToday()
    note_id = None
    if seen or text:
        words = [_NOTE_WORDS[o] for o in seen if o in _NOTE_WORDS]
        parts = words + ([f"«{text}»"] if text else [])
        body = "Besøgsven (frivillig)" + (": " + "; ".join(parts) if parts else "")
        note_id = await repository.insert_welfare_note(
            session,
            {
                "municipality_id": request.municipality_id,
                "citizen_id": request.citizen_id,
                "order_id": None,
                "observations": ",".join(o for o in seen if o in _SHARED_CODES),
                "text": body,
                "status": "open",
                "raised_at": now,
                "raised_by_user_id": actor.user_id,
                "idempotency_key": f"community-visit:{visit_id}:note",
            },
        )
    if not await repository.move_visit(
        session,
        visit_id=visit_id,
        current=visit.status,
        values={"status": VisitStatus.HELD, "held_at": now, "welfare_note_id": note_id},
    ):
        raise VisitTransitionRefused(visit.status.value, VisitStatus.HELD.value)
    await session.refresh(visit)
    if note_id is not None:
        await audit.record(
            session,
            actor=actor,
            action="welfare_note.raised",
            entity_type="welfare_note",
            entity_id=note_id,
            municipality_id=request.municipality_id,
            data={"visit_id": visit_id, "citizen_id": request.citizen_id, "observations": seen},
        )
    await audit.record(
        session,
        actor=actor,
        action="community_visit.held",
        entity_type="community_visit",
        entity_id=visit_id,
        municipality_id=request.municipality_id,
    )
    return visit


# --- what the municipality sees: figures, no personal data -------------------------------


@dataclass(frozen=True)
class FigureRow:
    partner_id: int
    partner_name: str
    postal_code: str
    visits_planned: int
    visits_held: int
    seats_booked: int
    seats_used: int
    waiting: int
    matched: int
    average_days_to_match: float | None


async def _figure_rows(
    session: AsyncSession, municipality_id: int, partner_id: int | None
) -> list[FigureRow]:
    raw = await repository.figures(session, municipality_id, partner_id=partner_id)
    names = {p.id: p.name for p in await repository.partners_of(session, municipality_id)}
    rows = []
    for (pid, postal), c in sorted(raw.items(), key=lambda kv: (names.get(kv[0][0], ""), kv[0])):
        matched = int(c["matched"])
        rows.append(
            FigureRow(
                partner_id=pid,
                partner_name=names.get(pid, ""),
                postal_code=postal or "",
                visits_planned=int(c["visits_planned"]),
                visits_held=int(c["visits_held"]),
                seats_booked=int(c["seats_booked"]),
                seats_used=int(c["seats_used"]),
                waiting=int(c["waiting"]),
                matched=matched,
                average_days_to_match=round(c["days_to_match_total"] / matched, 1)
                if matched
                else None,
            )
        )
    return rows


async def participation(session: AsyncSession, *, actor: Actor) -> list[FigureRow]:
    """Per partner and area (postal code): counts only."""
    municipality_id = _municipality_of(actor, Permission.COMMUNITY_FIGURES_VIEW)
    return await _figure_rows(session, municipality_id, None)


async def report_rows(
    session: AsyncSession, *, actor: Actor, partner_id: int
) -> tuple[CommunityPartner, list[FigureRow]]:
    """For one partner's activity-grant report: its municipality's staff, or the
    partner's own coordinator."""
    if not actor.can(Permission.COMMUNITY_REPORT):
        raise PermissionDenied(N_("Your role does not allow this."))
    partner = await repository.get_partner(session, partner_id)
    if partner is None:
        raise PartnerNotFound()
    if actor.can(Permission.COMMUNITY_COORDINATE):
        _, own = await _coordinator(session, actor)
        if own.id != partner_id:
            raise PartnerNotFound()
    elif actor.municipality_id != partner.municipality_id:
        raise PartnerNotFound()
    return partner, await _figure_rows(session, partner.municipality_id, partner_id)


CSV_HEADER = (
    "partner",
    "postal_code",
    "visits_planned",
    "visits_held",
    "seats_booked",
    "seats_used",
    "waiting_for_match",
    "matched",
    "average_days_to_match",
)


def _cell(text: str) -> str:
    """An association names itself: a name a spreadsheet would run as a formula
    is written as text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_lines(rows: list[FigureRow]) -> Iterator[str]:
    """The export, one CSV line at a time (stdlib csv), for a streaming response."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(values: tuple[Any, ...]) -> str:
        buffer.seek(0)
        buffer.truncate(0)
        writer.writerow(values)
        return buffer.getvalue()

    yield line(CSV_HEADER)
    for r in rows:
        yield line(
            (
                _cell(r.partner_name),
                r.postal_code,
                r.visits_planned,
                r.visits_held,
                r.seats_booked,
                r.seats_used,
                r.waiting,
                r.matched,
                "" if r.average_days_to_match is None else f"{r.average_days_to_match:.1f}",
            )
        )
