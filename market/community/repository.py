"""Every query of co-production."""

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from market.community.models import (
    ActivityKind,
    CommunityActivity,
    CommunityMember,
    CommunityPartner,
    CommunityVisit,
    CompanionRequest,
    PartnerStatus,
    RequestStatus,
    SeatBooking,
    SeatStatus,
    VisitStatus,
)
from market.orders.models import Order

# --- partners and members -----------------------------------------------------------


async def add(session: AsyncSession, row: SQLModel) -> Any:
    session.add(row)
    await session.flush()
    return row


async def get_partner(session: AsyncSession, partner_id: int) -> CommunityPartner | None:
    return await session.get(CommunityPartner, partner_id, populate_existing=True)


async def partners_of(session: AsyncSession, municipality_id: int) -> Sequence[CommunityPartner]:
    result = await session.execute(
        select(CommunityPartner)
        .where(col(CommunityPartner.municipality_id) == municipality_id)
        .order_by(col(CommunityPartner.name))
    )
    return result.scalars().all()


async def move_partner(
    session: AsyncSession, *, partner_id: int, current: PartnerStatus, values: dict[str, Any]
) -> bool:
    result = await session.execute(
        update(CommunityPartner)
        .where(col(CommunityPartner.id) == partner_id, col(CommunityPartner.status) == current)
        .values(**values)
        .returning(col(CommunityPartner.id))
    )
    return result.scalar_one_or_none() is not None


async def member_of_user(session: AsyncSession, user_id: int) -> CommunityMember | None:
    result = await session.execute(
        select(CommunityMember).where(
            col(CommunityMember.user_id) == user_id, col(CommunityMember.active).is_(True)
        )
    )
    return result.scalars().first()


async def get_member(session: AsyncSession, member_id: int) -> CommunityMember | None:
    return await session.get(CommunityMember, member_id, populate_existing=True)


async def members_of(session: AsyncSession, partner_id: int) -> Sequence[CommunityMember]:
    result = await session.execute(
        select(CommunityMember)
        .where(col(CommunityMember.partner_id) == partner_id, col(CommunityMember.active).is_(True))
        .order_by(col(CommunityMember.first_name))
    )
    return result.scalars().all()


async def remove_member(session: AsyncSession, member_id: int, when: datetime) -> bool:
    result = await session.execute(
        update(CommunityMember)
        .where(col(CommunityMember.id) == member_id, col(CommunityMember.active).is_(True))
        .values(active=False, removed_at=when)
        .returning(col(CommunityMember.id))
    )
    return result.scalar_one_or_none() is not None


# --- activities -----------------------------------------------------------------------


async def get_activity(session: AsyncSession, activity_id: int) -> CommunityActivity | None:
    return await session.get(CommunityActivity, activity_id, populate_existing=True)


async def activities_of_partner(
    session: AsyncSession, partner_id: int
) -> Sequence[CommunityActivity]:
    result = await session.execute(
        select(CommunityActivity)
        .where(
            col(CommunityActivity.partner_id) == partner_id, col(CommunityActivity.active).is_(True)
        )
        .order_by(col(CommunityActivity.held_on), col(CommunityActivity.id))
    )
    return result.scalars().all()


async def open_activities(
    session: AsyncSession, municipality_id: int, *, from_day: date
) -> Sequence[tuple[CommunityActivity, CommunityPartner]]:
    """Approved partners' active activities: companions, and shared meals to come."""
    result = await session.execute(
        select(CommunityActivity, CommunityPartner)
        .join(CommunityPartner, col(CommunityPartner.id) == col(CommunityActivity.partner_id))
        .where(
            col(CommunityActivity.municipality_id) == municipality_id,
            col(CommunityActivity.active).is_(True),
            col(CommunityPartner.status) == PartnerStatus.APPROVED,
            (col(CommunityActivity.kind) == ActivityKind.COMPANION)
            | (col(CommunityActivity.held_on) >= from_day),
        )
        .order_by(
            col(CommunityActivity.kind), col(CommunityActivity.held_on), col(CommunityActivity.id)
        )
    )
    return [(a, p) for a, p in result.all()]


async def take_seat(session: AsyncSession, activity_id: int) -> bool:
    """One conditional UPDATE: never more bookings than seats."""
    result = await session.execute(
        update(CommunityActivity)
        .where(
            col(CommunityActivity.id) == activity_id,
            col(CommunityActivity.seats_taken) < col(CommunityActivity.seats),
        )
        .values(seats_taken=col(CommunityActivity.seats_taken) + 1)
        .returning(col(CommunityActivity.id))
    )
    return result.scalar_one_or_none() is not None


async def give_back_seat(session: AsyncSession, activity_id: int) -> None:
    await session.execute(
        update(CommunityActivity)
        .where(col(CommunityActivity.id) == activity_id, col(CommunityActivity.seats_taken) > 0)
        .values(seats_taken=col(CommunityActivity.seats_taken) - 1)
    )


# --- requests and visits ---------------------------------------------------------------


async def get_request(session: AsyncSession, request_id: int) -> CompanionRequest | None:
    return await session.get(CompanionRequest, request_id, populate_existing=True)


async def requests_of_partner(session: AsyncSession, partner_id: int) -> Sequence[CompanionRequest]:
    result = await session.execute(
        select(CompanionRequest)
        .where(
            col(CompanionRequest.partner_id) == partner_id,
            col(CompanionRequest.status).in_(
                (RequestStatus.ASKED, RequestStatus.PROPOSED, RequestStatus.MATCHED)
            ),
        )
        .order_by(col(CompanionRequest.asked_at))
    )
    return result.scalars().all()


async def requests_of_citizen(session: AsyncSession, citizen_id: int) -> Sequence[CompanionRequest]:
    result = await session.execute(
        select(CompanionRequest)
        .where(col(CompanionRequest.citizen_id) == citizen_id)
        .order_by(col(CompanionRequest.asked_at).desc())
    )
    return result.scalars().all()


async def open_request_of_citizen(
    session: AsyncSession, citizen_id: int, partner_id: int
) -> CompanionRequest | None:
    result = await session.execute(
        select(CompanionRequest).where(
            col(CompanionRequest.citizen_id) == citizen_id,
            col(CompanionRequest.partner_id) == partner_id,
            col(CompanionRequest.status).in_(
                (RequestStatus.ASKED, RequestStatus.PROPOSED, RequestStatus.MATCHED)
            ),
        )
    )
    return result.scalars().first()


async def matches_of_volunteer(session: AsyncSession, member_id: int) -> Sequence[CompanionRequest]:
    result = await session.execute(
        select(CompanionRequest)
        .where(
            col(CompanionRequest.volunteer_member_id) == member_id,
            col(CompanionRequest.status) == RequestStatus.MATCHED,
        )
        .order_by(col(CompanionRequest.id))
    )
    return result.scalars().all()


async def open_requests_of_volunteer(
    session: AsyncSession, member_id: int
) -> Sequence[CompanionRequest]:
    result = await session.execute(
        select(CompanionRequest).where(
            col(CompanionRequest.volunteer_member_id) == member_id,
            col(CompanionRequest.status).in_((RequestStatus.PROPOSED, RequestStatus.MATCHED)),
        )
    )
    return result.scalars().all()


async def move_request(
    session: AsyncSession, *, request_id: int, current: RequestStatus, values: dict[str, Any]
) -> bool:
    result = await session.execute(
        update(CompanionRequest)
        .where(col(CompanionRequest.id) == request_id, col(CompanionRequest.status) == current)
        .values(**values)
        .returning(col(CompanionRequest.id))
    )
    return result.scalar_one_or_none() is not None


async def ordered_days(
    session: AsyncSession, citizen_id: int, first: date, last: date, statuses: Sequence[str]
) -> set[date]:
    """The days from ``first`` to ``last`` on which the citizen has a meal on its way."""
    result = await session.execute(
        select(col(Order.delivery_on))
        .distinct()
        .where(
            col(Order.citizen_id) == citizen_id,
            col(Order.status).in_(list(statuses)),
            col(Order.delivery_on) >= first,
            col(Order.delivery_on) <= last,
        )
    )
    return set(result.scalars().all())


async def matched_request_ids(session: AsyncSession) -> list[int]:
    result = await session.execute(
        select(col(CompanionRequest.id))
        .where(col(CompanionRequest.status) == RequestStatus.MATCHED)
        .order_by(col(CompanionRequest.id))
    )
    return [request_id for request_id in result.scalars().all() if request_id is not None]


async def visit_days(session: AsyncSession, request_id: int) -> set[date]:
    result = await session.execute(
        select(col(CommunityVisit.visit_on)).where(col(CommunityVisit.request_id) == request_id)
    )
    return set(result.scalars().all())


async def visits_of_requests(
    session: AsyncSession, request_ids: list[int], *, from_day: date | None = None
) -> Sequence[CommunityVisit]:
    if not request_ids:
        return []
    query = select(CommunityVisit).where(col(CommunityVisit.request_id).in_(request_ids))
    if from_day is not None:
        query = query.where(col(CommunityVisit.visit_on) >= from_day)
    result = await session.execute(query.order_by(col(CommunityVisit.visit_on)))
    return result.scalars().all()


async def get_visit(session: AsyncSession, visit_id: int) -> CommunityVisit | None:
    return await session.get(CommunityVisit, visit_id, populate_existing=True)


async def move_visit(
    session: AsyncSession, *, visit_id: int, current: VisitStatus, values: dict[str, Any]
) -> bool:
    result = await session.execute(
        update(CommunityVisit)
        .where(col(CommunityVisit.id) == visit_id, col(CommunityVisit.status) == current)
        .values(**values)
        .returning(col(CommunityVisit.id))
    )
    return result.scalar_one_or_none() is not None


async def cancel_planned_visits(session: AsyncSession, request_id: int, from_day: date) -> None:
    await session.execute(
        update(CommunityVisit)
        .where(
            col(CommunityVisit.request_id) == request_id,
            col(CommunityVisit.status) == VisitStatus.PLANNED,
            col(CommunityVisit.visit_on) >= from_day,
        )
        .values(status=VisitStatus.CANCELLED)
    )


# --- seats -------------------------------------------------------------------------------


async def get_booking(session: AsyncSession, booking_id: int) -> SeatBooking | None:
    return await session.get(SeatBooking, booking_id, populate_existing=True)


async def booking_of(
    session: AsyncSession, activity_id: int, citizen_id: int
) -> SeatBooking | None:
    result = await session.execute(
        select(SeatBooking).where(
            col(SeatBooking.activity_id) == activity_id,
            col(SeatBooking.citizen_id) == citizen_id,
            col(SeatBooking.status) == SeatStatus.BOOKED,
        )
    )
    return result.scalars().first()


async def bookings_of_citizen(
    session: AsyncSession, citizen_id: int
) -> Sequence[tuple[SeatBooking, CommunityActivity]]:
    result = await session.execute(
        select(SeatBooking, CommunityActivity)
        .join(CommunityActivity, col(CommunityActivity.id) == col(SeatBooking.activity_id))
        .where(col(SeatBooking.citizen_id) == citizen_id)
        .order_by(col(CommunityActivity.held_on))
    )
    return [(b, a) for b, a in result.all()]


async def bookings_of_activity(session: AsyncSession, activity_id: int) -> Sequence[SeatBooking]:
    result = await session.execute(
        select(SeatBooking).where(
            col(SeatBooking.activity_id) == activity_id,
            col(SeatBooking.status).in_((SeatStatus.BOOKED, SeatStatus.ATTENDED)),
        )
    )
    return result.scalars().all()


async def move_booking(
    session: AsyncSession, *, booking_id: int, current: SeatStatus, values: dict[str, Any]
) -> bool:
    result = await session.execute(
        update(SeatBooking)
        .where(col(SeatBooking.id) == booking_id, col(SeatBooking.status) == current)
        .values(**values)
        .returning(col(SeatBooking.id))
    )
    return result.scalar_one_or_none() is not None


# --- the everyday welfare note (the same table the driver's notes go to) ----------------


async def insert_welfare_note(session: AsyncSession, values: dict[str, Any]) -> int:
    """The case worker's queue reads ``welfare_note``; the table is found by its
    name (which only a migration can change), so this package depends on no
    module path inside orders. Registered when orders' models are imported."""
    table = SQLModel.metadata.tables["welfare_note"]
    result = await session.execute(insert(table).values(**values).returning(table.c.id))
    return int(result.scalar_one())


# --- the municipality's figures (counts only, no personal data) ----------------------


async def figures(
    session: AsyncSession, municipality_id: int, *, partner_id: int | None = None
) -> dict[tuple[int, str], dict[str, float]]:
    """Per (partner, postal code): visits planned and held, seats booked and
    used, requests not yet matched, and the average days from asking to a match."""
    out: dict[tuple[int, str], dict[str, float]] = {}
    for pid, postal, status, n in await _visit_counts(session, municipality_id, partner_id):
        if status != VisitStatus.CANCELLED:
            _cell(out, (pid, postal))["visits_planned"] += n
        if status == VisitStatus.HELD:
            _cell(out, (pid, postal))["visits_held"] += n
    for pid, postal, status, n in await _seat_counts(session, municipality_id, partner_id):
        if status != SeatStatus.CANCELLED:
            _cell(out, (pid, postal))["seats_booked"] += n
        if status == SeatStatus.ATTENDED:
            _cell(out, (pid, postal))["seats_used"] += n
    for pid, postal, status, asked_at, matched_at in await _request_times(
        session, municipality_id, partner_id
    ):
        c = _cell(out, (pid, postal))
        if status in (RequestStatus.ASKED, RequestStatus.PROPOSED):
            c["waiting"] += 1
        if matched_at is not None:
            c["matched"] += 1
            c["days_to_match_total"] += (matched_at - asked_at).total_seconds() / 86400
    return out


def _cell(out: dict[tuple[int, str], dict[str, float]], key: tuple[int, str]) -> dict[str, float]:
    return out.setdefault(
        key,
        {
            "visits_planned": 0,
            "visits_held": 0,
            "seats_booked": 0,
            "seats_used": 0,
            "waiting": 0,
            "matched": 0,
            "days_to_match_total": 0.0,
        },
    )


def _scoped(query: Any, column: Any, partner_id: int | None) -> Any:
    return query.where(column == partner_id) if partner_id is not None else query


async def _visit_counts(
    session: AsyncSession, municipality_id: int, partner_id: int | None
) -> Sequence[Any]:
    """(partner, postal code, visit status, count)."""
    result = await session.execute(
        _scoped(
            select(
                col(CompanionRequest.partner_id),
                col(CompanionRequest.postal_code),
                col(CommunityVisit.status),
                func.count(),
            )
            .join(CompanionRequest, col(CompanionRequest.id) == col(CommunityVisit.request_id))
            .where(col(CompanionRequest.municipality_id) == municipality_id)
            .group_by(
                col(CompanionRequest.partner_id),
                col(CompanionRequest.postal_code),
                col(CommunityVisit.status),
            ),
            col(CompanionRequest.partner_id),
            partner_id,
        )
    )
    return result.all()


async def _seat_counts(
    session: AsyncSession, municipality_id: int, partner_id: int | None
) -> Sequence[Any]:
    """(partner, postal code, seat status, count)."""
    result = await session.execute(
        _scoped(
            select(
                col(CommunityActivity.partner_id),
                col(SeatBooking.postal_code),
                col(SeatBooking.status),
                func.count(),
            )
            .join(CommunityActivity, col(CommunityActivity.id) == col(SeatBooking.activity_id))
            .where(col(SeatBooking.municipality_id) == municipality_id)
            .group_by(
                col(CommunityActivity.partner_id),
                col(SeatBooking.postal_code),
                col(SeatBooking.status),
            ),
            col(CommunityActivity.partner_id),
            partner_id,
        )
    )
    return result.all()


async def _request_times(
    session: AsyncSession, municipality_id: int, partner_id: int | None
) -> Sequence[Any]:
    """(partner, postal code, request status, asked at, matched at)."""
    result = await session.execute(
        _scoped(
            select(
                col(CompanionRequest.partner_id),
                col(CompanionRequest.postal_code),
                col(CompanionRequest.status),
                col(CompanionRequest.asked_at),
                col(CompanionRequest.matched_at),
            ).where(col(CompanionRequest.municipality_id) == municipality_id),
            col(CompanionRequest.partner_id),
            partner_id,
        )
    )
    return result.all()
