"""Activities an approved association publishes (meal companions and shared
meals) and the citizen's page that lists them."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.auth.permissions import Actor
from market.community import repository
from market.community.access.service import (
    coordinator,
    local_day,
    weekdays_text,
    whom,
)
from market.community.companions.service import (
    CitizenRequest,
    requests_of_citizen,
)
from market.community.models import (
    ActivityKind,
    CommunityActivity,
    CommunityPartner,
    SeatBooking,
)
from market.db import utcnow
from market.errors import N_, InvalidInput
from vouchers.models import Citizen

MAX_SEATS = 500


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
    _, partner = await coordinator(session, actor, approved=True)
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
        today = local_day(now or utcnow())
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
        values["weekdays"] = weekdays_text(activity.weekdays)
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
class ActivityLine:
    activity: CommunityActivity
    partner: CommunityPartner

    @property
    def seats_left(self) -> int:
        return max(0, self.activity.seats - self.activity.seats_taken)


@dataclass(frozen=True)
class CommunityView:
    citizen: Citizen | None
    choices: list[Citizen]
    activities: list[ActivityLine]
    requests: list[CitizenRequest]
    bookings: list[tuple[SeatBooking, CommunityActivity]]


async def community_view(
    session: AsyncSession, *, actor: Actor, citizen_id: int | None, now: datetime | None = None
) -> CommunityView:
    today = local_day(now or utcnow())
    citizen, choices, _ = await whom(session, actor, citizen_id)
    if citizen is None or citizen.id is None:
        return CommunityView(None, choices, [], [], [])
    found = await repository.open_activities(
        session, citizen.municipality_id, from_day=today + timedelta(days=1)
    )
    return CommunityView(
        citizen=citizen,
        choices=choices,
        activities=[ActivityLine(activity=a, partner=p) for a, p in found],
        requests=await requests_of_citizen(session, citizen.id, today),
        bookings=[
            (b, a)
            for b, a in await repository.bookings_of_citizen(session, citizen.id)
            if a.held_on is not None and a.held_on >= today
        ],
    )
