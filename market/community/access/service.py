"""Who acts in co-production, and the small shared steps: the municipality's
staff, an association's coordinator or volunteer, and the citizen (or a linked
relative or the case worker) a request or a seat is for."""

from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.models import Role
from market.auth.permissions import Actor, Permission
from market.clock import COPENHAGEN
from market.community import repository
from market.community.exceptions import (
    ActivityNotFound,
    NotAMember,
    PartnerNotApproved,
    PartnerTransitionRefused,
    RequestNotFound,
    RequestTransitionRefused,
    SeatTransitionRefused,
    VisitTransitionRefused,
)
from market.community.models import (
    ActivityKind,
    CommunityActivity,
    CommunityMember,
    CommunityPartner,
    MemberRole,
    PartnerStatus,
    RequestStatus,
    SeatStatus,
    VisitStatus,
)
from market.errors import N_, InvalidInput, PermissionDenied
from vouchers import service as vouchers
from vouchers.models import Citizen


def local_day(now: datetime) -> date:
    return now.astimezone(COPENHAGEN).date()


def weekdays_text(values: list[int] | list[str] | None) -> str:
    days = sorted({int(v) for v in values or [] if str(v).strip()})
    if any(d < 1 or d > 7 for d in days):
        raise InvalidInput(N_("Choose weekdays from Monday to Sunday."))
    return ",".join(str(d) for d in days)


def weekday_numbers(text: str) -> list[int]:
    return [int(d) for d in text.split(",") if d]


def first_name(full_name: str) -> str:
    return full_name.split()[0] if full_name.strip() else ""


def municipality_of(actor: Actor, permission: Permission) -> int:
    if not actor.can(permission) or actor.municipality_id is None:
        raise PermissionDenied(N_("Only the municipality's staff may do this."))
    return actor.municipality_id


def partner_refusal(current: PartnerStatus, wanted: PartnerStatus) -> PartnerTransitionRefused:
    return PartnerTransitionRefused(current.value, wanted.value)


def request_refusal(current: RequestStatus, wanted: RequestStatus) -> RequestTransitionRefused:
    return RequestTransitionRefused(current.value, wanted.value)


def visit_refusal(current: VisitStatus, wanted: VisitStatus) -> VisitTransitionRefused:
    return VisitTransitionRefused(current.value, wanted.value)


def seat_refusal(current: SeatStatus, wanted: SeatStatus) -> SeatTransitionRefused:
    return SeatTransitionRefused(current.value, wanted.value)


async def membership(
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


async def coordinator(
    session: AsyncSession, actor: Actor, *, approved: bool = False
) -> tuple[CommunityMember, CommunityPartner]:
    member, partner = await membership(session, actor, Permission.COMMUNITY_COORDINATE)
    if member.role != MemberRole.COORDINATOR:
        raise NotAMember()
    if approved and partner.status != PartnerStatus.APPROVED:
        raise PartnerNotApproved()
    return member, partner


async def whom(
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


async def citizen_of(session: AsyncSession, actor: Actor, citizen_id: int) -> tuple[Citizen, Actor]:
    citizen, _, acting = await whom(session, actor, citizen_id)
    if citizen is None:
        raise RequestNotFound()
    return citizen, acting


async def open_activity(
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


async def volunteer(session: AsyncSession, actor: Actor) -> CommunityMember:
    member, _ = await membership(session, actor, Permission.COMMUNITY_VISIT)
    if member.role != MemberRole.VOLUNTEER:
        raise NotAMember()
    return member
