"""Meal companions: a citizen asks, the coordinator proposes a volunteer, the
citizen accepts (visits are planned at mealtimes) or declines, and either side
ends the match."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.auth.permissions import Actor
from market.community import repository
from market.community.access.service import (
    citizen_of,
    coordinator,
    local_day,
    open_activity,
    request_refusal,
    weekday_numbers,
    weekdays_text,
)
from market.community.exceptions import (
    AlreadyAsked,
    MemberNotFound,
    RequestNotFound,
    RequestTransitionRefused,
)
from market.community.models import (
    REQUEST_TRANSITIONS,
    ActivityKind,
    CommunityVisit,
    CompanionRequest,
    MemberRole,
    RequestStatus,
    VisitStatus,
)
from market.db import utcnow
from market.errors import N_, AppError, InvalidInput
from market.lifecycle import check_transition
from market.orders import service as orders

PLAN_DAYS_AHEAD = 14


async def end_request(session: AsyncSession, request: CompanionRequest, now: datetime) -> None:
    assert request.id is not None
    check_transition(REQUEST_TRANSITIONS, request.status, RequestStatus.ENDED, request_refusal)
    if not await repository.move_request(
        session,
        request_id=request.id,
        current=request.status,
        values={"status": RequestStatus.ENDED, "ended_at": now},
    ):
        raise RequestTransitionRefused(request.status.value, RequestStatus.ENDED.value)
    await repository.cancel_planned_visits(session, request.id, local_day(now))


async def propose_volunteer(
    session: AsyncSession, *, actor: Actor, request_id: int, member_id: int
) -> CompanionRequest:
    _, partner = await coordinator(session, actor, approved=True)
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
    check_transition(REQUEST_TRANSITIONS, request.status, RequestStatus.PROPOSED, request_refusal)
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
    _, partner = await coordinator(session, actor)
    request = await repository.get_request(session, request_id)
    if request is None or request.partner_id != partner.id:
        raise RequestNotFound()
    await end_request(session, request, now or utcnow())
    await audit.record(
        session,
        actor=actor,
        action="companion_request.ended",
        entity_type="companion_request",
        entity_id=request_id,
        municipality_id=request.municipality_id,
    )


@dataclass(frozen=True)
class CitizenRequest:
    request: CompanionRequest
    partner_name: str
    volunteer_first_name: str | None
    visits: list[CommunityVisit]


async def requests_of_citizen(
    session: AsyncSession, citizen_id: int, today: date
) -> list[CitizenRequest]:
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


async def ask_for_companion(
    session: AsyncSession,
    *,
    actor: Actor,
    citizen_id: int,
    activity_id: int,
    weekdays: list[int],
    wishes: str = "",
) -> CompanionRequest:
    citizen, acting = await citizen_of(session, actor, citizen_id)
    activity, partner = await open_activity(session, activity_id, citizen, ActivityKind.COMPANION)
    assert citizen.id is not None and partner.id is not None and activity.id is not None
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
            weekdays=weekdays_text(weekdays) or activity.weekdays,
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


async def citizen_request(
    session: AsyncSession, actor: Actor, request_id: int
) -> tuple[CompanionRequest, Actor]:
    request = await repository.get_request(session, request_id)
    if request is None:
        raise RequestNotFound()
    try:
        _, acting = await citizen_of(session, actor, request.citizen_id)
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
    request, acting = await citizen_request(session, actor, request_id)
    wanted = RequestStatus.MATCHED if accept else RequestStatus.ASKED
    check_transition(REQUEST_TRANSITIONS, request.status, wanted, request_refusal)
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
        await _plan(session, request, now)
    await audit.record(
        session,
        actor=acting,
        action="companion_request.accepted" if accept else "companion_request.declined",
        entity_type="companion_request",
        entity_id=request_id,
        municipality_id=request.municipality_id,
    )
    return request


async def _plan(session: AsyncSession, request: CompanionRequest, now: datetime) -> int:
    """A visit on each agreed weekday of the coming two weeks on which the
    citizen has a meal ordered (the companion comes at mealtime)."""
    assert request.id is not None
    today = local_day(now)
    days = set(weekday_numbers(request.weekdays))
    ordered = await repository.ordered_days(
        session,
        request.citizen_id,
        today,
        today + timedelta(days=PLAN_DAYS_AHEAD),
        [status.value for status in orders.HOLDS_UNITS],
    )
    planned = await repository.visit_days(session, request.id)
    count = 0
    for day in sorted(ordered - planned):
        if days and day.isoweekday() not in days:
            continue
        await repository.add(session, CommunityVisit(request_id=request.id, visit_on=day))
        count += 1
    return count


async def matched_request_ids(session: AsyncSession) -> list[int]:
    """The matches whose visits the periodic planner keeps up with the meals ordered."""
    return await repository.matched_request_ids(session)


async def plan_visits_for_match(
    session: AsyncSession, *, request_id: int, now: datetime | None = None
) -> int:
    """For the periodic work: plans visits for meals ordered since the match
    (a meal ordered after the citizen accepted gets its visit without anyone
    asking). A match that ended meanwhile plans nothing."""
    request = await repository.get_request(session, request_id)
    if request is None or request.status != RequestStatus.MATCHED:
        return 0
    return await _plan(session, request, now or utcnow())


async def plan_visits(
    session: AsyncSession, *, actor: Actor, request_id: int, now: datetime | None = None
) -> int:
    """Plans visits for meals ordered since the match (the citizen's side)."""
    now = now or utcnow()
    request, acting = await citizen_request(session, actor, request_id)
    if request.status != RequestStatus.MATCHED:
        raise RequestTransitionRefused(request.status.value, RequestStatus.MATCHED.value)
    return await _plan(session, request, now)


async def end_match_by_citizen(
    session: AsyncSession, *, actor: Actor, request_id: int, now: datetime | None = None
) -> None:
    request, acting = await citizen_request(session, actor, request_id)
    await end_request(session, request, now or utcnow())
    await audit.record(
        session,
        actor=acting,
        action="companion_request.ended",
        entity_type="companion_request",
        entity_id=request_id,
        municipality_id=request.municipality_id,
    )
