"""Co-production: associations (community partners) beside the marketplace,
their volunteers and activities, citizens asking for a meal companion, the
visits that follow, and seats at shared meals. Nothing here is paid: no
voucher units and no prices; a shared meal may only release a home delivery."""

from datetime import date, datetime, time
from enum import StrEnum

from sqlalchemy import CheckConstraint, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from market.db import UTCDateTime, enum_type, utcnow


class PartnerStatus(StrEnum):
    APPLIED = "applied"
    APPROVED = "approved"
    SUSPENDED = "suspended"
    REJECTED = "rejected"


PARTNER_TRANSITIONS: dict[PartnerStatus, frozenset[PartnerStatus]] = {
    PartnerStatus.APPLIED: frozenset({PartnerStatus.APPROVED, PartnerStatus.REJECTED}),
    PartnerStatus.APPROVED: frozenset({PartnerStatus.SUSPENDED}),
    PartnerStatus.SUSPENDED: frozenset({PartnerStatus.APPROVED}),
    PartnerStatus.REJECTED: frozenset(),
}


class MemberRole(StrEnum):
    COORDINATOR = "coordinator"
    VOLUNTEER = "volunteer"


class ActivityKind(StrEnum):
    COMPANION = "companion"  # a meal companion ("spiseven") who visits at mealtime
    SHARED_MEAL = "shared_meal"  # a shared meal at a local centre


class RequestStatus(StrEnum):
    ASKED = "asked"  # waiting for the coordinator to propose a volunteer
    PROPOSED = "proposed"  # waiting for the citizen to accept or decline
    MATCHED = "matched"  # accepted: visits are planned
    DECLINED = "declined"
    ENDED = "ended"  # the match ended (the citizen, the partner or a removed volunteer)


REQUEST_TRANSITIONS: dict[RequestStatus, frozenset[RequestStatus]] = {
    RequestStatus.ASKED: frozenset({RequestStatus.PROPOSED, RequestStatus.ENDED}),
    RequestStatus.PROPOSED: frozenset(
        {RequestStatus.MATCHED, RequestStatus.DECLINED, RequestStatus.ASKED, RequestStatus.ENDED}
    ),
    RequestStatus.MATCHED: frozenset({RequestStatus.ENDED}),
    RequestStatus.DECLINED: frozenset(),
    RequestStatus.ENDED: frozenset(),
}
# The statuses in which a volunteer may see the citizen.
VOLUNTEER_SEES = frozenset({RequestStatus.MATCHED})


class VisitStatus(StrEnum):
    PLANNED = "planned"
    HELD = "held"
    CANCELLED = "cancelled"


VISIT_TRANSITIONS: dict[VisitStatus, frozenset[VisitStatus]] = {
    VisitStatus.PLANNED: frozenset({VisitStatus.HELD, VisitStatus.CANCELLED}),
    VisitStatus.HELD: frozenset(),
    VisitStatus.CANCELLED: frozenset(),
}


class SeatStatus(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    ATTENDED = "attended"


SEAT_TRANSITIONS: dict[SeatStatus, frozenset[SeatStatus]] = {
    SeatStatus.BOOKED: frozenset({SeatStatus.CANCELLED, SeatStatus.ATTENDED}),
    SeatStatus.CANCELLED: frozenset(),
    SeatStatus.ATTENDED: frozenset(),
}


class CommunityPartner(SQLModel, table=True):
    """An association (a volunteer group, a church or day-centre club) that takes
    part without being paid. Approved by the municipality against the
    community standard (``service.COMMUNITY_STANDARD``): the association vouches
    for each pledge when it registers."""

    __tablename__ = "community_partner"

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    name: str = Field(max_length=200)
    contact_email: str = Field(max_length=254)
    contact_phone: str = Field(default="", max_length=32)
    description: str = Field(default="", sa_type=Text)
    pledges: str = Field(default="", max_length=200, description="codes vouched, comma-separated")
    status: PartnerStatus = Field(
        default=PartnerStatus.APPLIED, sa_type=enum_type(PartnerStatus), index=True
    )
    registered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    decision_note: str = Field(default="", max_length=500)


class CommunityMember(SQLModel, table=True):
    """A partner's coordinator or volunteer: their account belongs to the
    partner through this row. Removing a volunteer closes the account and ends
    their matches."""

    __tablename__ = "community_member"

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="community_partner.id", index=True)
    user_id: int = Field(foreign_key="app_user.id", unique=True)
    role: MemberRole = Field(sa_type=enum_type(MemberRole))
    first_name: str = Field(max_length=100)
    active: bool = True
    added_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    removed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CommunityActivity(SQLModel, table=True):
    """A meal companion offer (on agreed weekdays) or a shared meal (one day,
    one place, a number of seats). Free of charge: no price anywhere."""

    __tablename__ = "community_activity"
    __table_args__ = (
        CheckConstraint("seats_taken >= 0 AND seats_taken <= seats", name="ck_activity_seats"),
    )

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="community_partner.id", index=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    kind: ActivityKind = Field(sa_type=enum_type(ActivityKind))
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_type=Text)
    place: str = Field(default="", max_length=200)
    postal_code: str = Field(default="", max_length=4, description="the area it serves")
    held_on: date | None = Field(default=None, index=True)
    starts_at: time | None = None
    weekdays: str = Field(default="", max_length=20, description="ISO weekdays, comma-separated")
    seats: int = 0
    seats_taken: int = 0
    transport: bool = False
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CompanionRequest(SQLModel, table=True):
    """A citizen (or a relative or the case worker for them) asks for a meal
    companion; the coordinator proposes a volunteer; the citizen answers."""

    __tablename__ = "companion_request"

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    partner_id: int = Field(foreign_key="community_partner.id", index=True)
    activity_id: int = Field(foreign_key="community_activity.id")
    citizen_id: int = Field(foreign_key="citizen.id", index=True)
    postal_code: str = Field(max_length=4, description="the area, for the figures")
    weekdays: str = Field(default="", max_length=20, description="ISO weekdays, comma-separated")
    wishes: str = Field(default="", max_length=500)
    status: RequestStatus = Field(
        default=RequestStatus.ASKED, sa_type=enum_type(RequestStatus), index=True
    )
    volunteer_member_id: int | None = Field(
        default=None, foreign_key="community_member.id", index=True
    )
    asked_by_user_id: int = Field(foreign_key="app_user.id")
    asked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    proposed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    matched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    observations_consented: bool = False


class CommunityVisit(SQLModel, table=True):
    """One planned mealtime visit, on a day the citizen has a meal ordered."""

    __tablename__ = "community_visit"
    __table_args__ = (UniqueConstraint("request_id", "visit_on", name="uq_visit_request_day"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="companion_request.id", index=True)
    visit_on: date = Field(index=True)
    status: VisitStatus = Field(default=VisitStatus.PLANNED, sa_type=enum_type(VisitStatus))
    held_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    welfare_note_id: int | None = Field(default=None, foreign_key="welfare_note.id")


class SeatBooking(SQLModel, table=True):
    """A seat at a shared meal. Booking may skip that day's home delivery
    (cancelled before its cut-off, so nothing is charged)."""

    __tablename__ = "seat_booking"

    id: int | None = Field(default=None, primary_key=True)
    activity_id: int = Field(foreign_key="community_activity.id", index=True)
    citizen_id: int = Field(foreign_key="citizen.id", index=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    postal_code: str = Field(max_length=4)
    status: SeatStatus = Field(default=SeatStatus.BOOKED, sa_type=enum_type(SeatStatus))
    booked_by_user_id: int = Field(foreign_key="app_user.id")
    booked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    skipped_order_ids: str = Field(default="", max_length=200)
