"""Seats at shared meals, booked like an order: one conditional UPDATE keeps
the seats; a seat may skip that day's home delivery, released through orders'
own cancellation (before the kitchen's cut-off, so nothing is charged)."""

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.auth.permissions import Actor
from market.community import repository
from market.community.access.service import (
    citizen_of,
    coordinator,
    local_day,
    open_activity,
    seat_refusal,
)
from market.community.companions.service import (
    requests_of_citizen,
)
from market.community.exceptions import (
    ActivityNotFound,
    AlreadyBooked,
    BookingNotFound,
    NoSeatsLeft,
    SeatTransitionRefused,
    TooLateToSkip,
)
from market.community.models import (
    SEAT_TRANSITIONS,
    ActivityKind,
    CommunityActivity,
    CommunityVisit,
    RequestStatus,
    SeatBooking,
    SeatStatus,
)
from market.db import utcnow
from market.errors import AppError
from market.lifecycle import check_transition
from market.orders import service as orders


async def mark_attended(session: AsyncSession, *, actor: Actor, booking_id: int) -> None:
    """The seat was used (the partner ticks who came): the figures count it."""
    _, partner = await coordinator(session, actor)
    booking = await repository.get_booking(session, booking_id)
    if booking is None:
        raise BookingNotFound()
    activity = await repository.get_activity(session, booking.activity_id)
    if activity is None or activity.partner_id != partner.id:
        raise BookingNotFound()
    check_transition(SEAT_TRANSITIONS, booking.status, SeatStatus.ATTENDED, seat_refusal)
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
    citizen, acting = await citizen_of(session, actor, citizen_id)
    activity, _ = await open_activity(session, activity_id, citizen, ActivityKind.SHARED_MEAL)
    assert citizen.id is not None and activity.id is not None and activity.held_on is not None
    if activity.held_on <= local_day(now):
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
        _, acting = await citizen_of(session, actor, booking.citizen_id)
    except AppError as exc:  # not this actor's citizen: nothing to see
        if exc.status_code in (403, 404, 422):
            raise BookingNotFound() from exc
        raise
    check_transition(SEAT_TRANSITIONS, booking.status, SeatStatus.CANCELLED, seat_refusal)
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
    today = local_day(now or utcnow())
    requests = await requests_of_citizen(session, citizen_id, today)
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
