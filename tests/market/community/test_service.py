"""Co-production's rules: approval against the standard, asking, matching,
visits planned on meal days, what a volunteer sees, observations reaching the
case worker, seats, skipping a delivery for a shared meal, and the figures."""

from datetime import time, timedelta

import pytest
from sqlalchemy import select

from market.auth import service as auth_service
from market.clock import local_instant
from market.community import service
from market.community.exceptions import (
    AlreadyAsked,
    NoSeatsLeft,
    NotAMember,
    PartnerNotApproved,
    PartnerTransitionRefused,
    RequestNotFound,
    StandardNotMet,
    TooLateToSkip,
    VisitNotFound,
)
from market.community.models import RequestStatus, SeatStatus, VisitStatus
from market.errors import Conflict
from market.orders import service as orders
from market.orders.models import OrderStatus, WelfareNote
from tests.market.community.conftest import PASSWORD, register
from tests.market.orders.conftest import days_ahead, noon_before
from tests.vouchers.conftest import make_citizen, make_grant
from vouchers import repository as voucher_repository
from vouchers.models import AccountKind
from vouchers.service import iso_week_of


async def order(session, kitchen, diner, day, key="k1"):
    return await orders.place_order(
        session,
        actor=diner.me,
        citizen_id=None,
        offer_id=kitchen.offer.id,
        delivery_on=day,
        idempotency_key=key,
        now=noon_before(day),
    )


async def matched(session, association, diner, now):
    request = await service.ask_for_companion(
        session,
        actor=diner.me,
        citizen_id=diner.citizen.id,
        activity_id=association.companion.id,
        weekdays=[],
    )
    await service.propose_volunteer(
        session,
        actor=association.coordinator,
        request_id=request.id,
        member_id=association.member.id,
    )
    return await service.answer_proposal(
        session,
        actor=diner.me,
        request_id=request.id,
        accept=True,
        observations_consented=True,
        now=now,
    )


async def test_an_association_must_vouch_for_the_whole_standard(session, world):
    with pytest.raises(StandardNotMet):
        await service.register_partner(
            session,
            registration=service.PartnerRegistration(
                municipality_id=world.municipality.id,
                name="Halvt",
                contact_email="x@halvt.example",
                contact_phone="",
                description="",
                pledges=["coordinator"],
                coordinator_name="H H",
                coordinator_email="x@halvt.example",
                coordinator_password=PASSWORD,
            ),
        )


async def test_approval_can_be_suspended_and_a_suspended_partner_cannot_publish(
    session, world, association
):
    admin = auth_service.actor_for(world.user("admin"))
    suspended = await service.decide_partner(
        session, actor=admin, partner_id=association.partner.id, move="suspend"
    )
    assert suspended.status == "suspended"
    with pytest.raises(PartnerNotApproved):
        await service.create_activity(
            session,
            actor=association.coordinator,
            activity=service.ActivityInput(kind="companion", title="Mere", weekdays=[1]),
        )
    with pytest.raises(PartnerTransitionRefused):
        await service.decide_partner(
            session, actor=admin, partner_id=association.partner.id, move="approve"
        )
    await service.decide_partner(
        session, actor=admin, partner_id=association.partner.id, move="reinstate"
    )


async def test_asking_matching_and_visits_on_the_days_a_meal_is_ordered(
    session, association, kitchen, diner
):
    first, second = days_ahead(2), days_ahead(4)
    await order(session, kitchen, diner, first, "a")
    await order(session, kitchen, diner, second, "b")
    request = await matched(session, association, diner, noon_before(first))
    assert request.status == RequestStatus.MATCHED
    with pytest.raises(AlreadyAsked):
        await service.ask_for_companion(
            session,
            actor=diner.me,
            citizen_id=diner.citizen.id,
            activity_id=association.companion.id,
            weekdays=[],
        )
    view = await service.community_view(
        session, actor=diner.me, citizen_id=None, now=noon_before(first)
    )
    [line] = view.requests
    assert [v.visit_on for v in line.visits] == [first, second]
    assert line.volunteer_first_name == "Villy"
    section = await service.my_orders_section(
        session, citizen_id=diner.citizen.id, now=noon_before(first)
    )
    assert [v.visit_on for v, _ in section.visits] == [first, second]


async def test_a_meal_ordered_after_the_match_gets_its_visit_from_the_periodic_planner(
    session, association, kitchen, diner
):
    first, later = days_ahead(2), days_ahead(5)
    await order(session, kitchen, diner, first, "a")
    request = await matched(session, association, diner, noon_before(first))
    await order(session, kitchen, diner, later, "b")  # ordered after the citizen accepted
    assert await service.matched_request_ids(session) == [request.id]
    assert (
        await service.plan_visits_for_match(session, request_id=request.id, now=noon_before(first))
        == 1
    )
    assert (
        await service.plan_visits_for_match(session, request_id=request.id, now=noon_before(first))
        == 0
    )  # planned once, however often the planner runs
    section = await service.my_orders_section(
        session, citizen_id=diner.citizen.id, now=noon_before(first)
    )
    assert [v.visit_on for v, _ in section.visits] == [first, later]


async def test_a_volunteer_sees_only_what_a_visit_needs_of_their_own_matches(
    session, world, association, kitchen, diner, caps
):
    day = days_ahead(2)
    await order(session, kitchen, diner, day)
    await matched(session, association, diner, noon_before(day))
    # Another citizen asks the same association; no volunteer is matched with her.
    case_worker = auth_service.actor_for(world.user("case_worker"))
    other = await make_citizen(
        session, case_worker, cpr="010160-1234", name="Inger Anden", postal_code="8000"
    )
    await make_grant(session, case_worker, other, day - timedelta(days=day.weekday()))
    await service.ask_for_companion(
        session,
        actor=case_worker,
        citizen_id=other.id,
        activity_id=association.companion.id,
        weekdays=[],
    )
    [match] = await service.volunteer_matches(
        session, actor=association.volunteer, now=noon_before(day)
    )
    assert match.first_name == diner.citizen.full_name.split()[0]
    assert match.address == diner.citizen.address
    seen = set(vars(match))
    assert seen == {
        "request_id",
        "first_name",
        "address",
        "postal_code",
        "door_notes",
        "allergies",
        "weekdays",
        "visits",
    }
    assert diner.citizen.full_name not in repr(match) or " " not in diner.citizen.full_name


async def test_access_ends_with_the_match_and_with_the_volunteer(
    session, association, kitchen, diner
):
    day = days_ahead(2)
    await order(session, kitchen, diner, day)
    request = await matched(session, association, diner, noon_before(day))
    await service.end_match_by_citizen(
        session, actor=diner.me, request_id=request.id, now=noon_before(day)
    )
    assert await service.volunteer_matches(session, actor=association.volunteer) == []
    await service.remove_volunteer(
        session, actor=association.coordinator, member_id=association.member.id
    )
    with pytest.raises(NotAMember):
        await service.volunteer_matches(session, actor=association.volunteer)
    user = await auth_service.get_user(session, user_id=association.volunteer.user_id)
    assert not user.is_active


async def test_an_observation_becomes_the_everyday_welfare_note_for_the_case_worker(
    session, world, association, kitchen, diner
):
    day = days_ahead(2)
    await order(session, kitchen, diner, day)
    await matched(session, association, diner, noon_before(day))
    [match] = await service.volunteer_matches(
        session, actor=association.volunteer, now=noon_before(day)
    )
    [visit] = match.visits
    held = await service.record_visit(
        session,
        actor=association.volunteer,
        visit_id=visit.id,
        observations=["lonely", "confused"],
        text="Talte om sin søster",
        now=local_instant(day, time(12, 30)),
    )
    assert held.status == VisitStatus.HELD
    note = await session.get(WelfareNote, held.welfare_note_id)
    assert note.citizen_id == diner.citizen.id
    assert note.observations == "confused"
    assert "virker ensom" in note.text and "søster" in note.text
    queue = await orders.open_notes(
        session, actor=auth_service.actor_for(world.user("case_worker"))
    )
    assert [entry.note.id for entry in queue] == [note.id]
    assert queue[0].seen_by == "volunteer"  # not labelled as the driver's


async def test_nobody_else_can_record_a_visit(session, association, kitchen, diner, settings):
    day = days_ahead(2)
    await order(session, kitchen, diner, day)
    await matched(session, association, diner, noon_before(day))
    [match] = await service.volunteer_matches(
        session, actor=association.volunteer, now=noon_before(day)
    )
    other = await service.add_volunteer(
        session,
        actor=association.coordinator,
        full_name="Anden Frivillig",
        email="anden@spise.example",
        settings=settings,
    )
    assert other.link is not None and "/invitation/" in other.link
    user = await auth_service.get_user(session, user_id=other.member.user_id)
    with pytest.raises(VisitNotFound):
        await service.record_visit(
            session,
            actor=auth_service.actor_for(user),
            visit_id=match.visits[0].id,
            observations=[],
            text="",
            now=local_instant(day, time(12, 30)),
        )
    with pytest.raises(RequestNotFound):
        await service.answer_proposal(
            session, actor=auth_service.actor_for(user), request_id=match.request_id, accept=True
        )


async def balance(session, grant, kind, day):
    return await voucher_repository.balance(session, grant.id, kind, iso_week_of(day))


async def test_skipping_the_delivery_for_a_shared_meal_releases_units_and_capacity_exactly(
    session, world, association, kitchen, diner, caps
):
    day = association.shared_meal.held_on
    now = noon_before(day)
    placed = await order(session, kitchen, diner, day)
    assert await balance(session, diner.grant, AccountKind.RESERVED, day) == 1
    available = await balance(session, diner.grant, AccountKind.AVAILABLE, day)
    # Two more citizens fill the approval's daily capacity of three.
    case_worker = auth_service.actor_for(world.user("case_worker"))
    others = []
    for n in range(3):
        citizen = await make_citizen(
            session, case_worker, cpr=f"0101{45 + n}-12{n}4", name=f"Borger {n}"
        )
        await make_grant(session, case_worker, citizen, day - timedelta(days=day.weekday()))
        others.append(citizen)

    async def order_for(citizen, key):
        return await orders.place_order(
            session,
            actor=case_worker,
            citizen_id=citizen.id,
            offer_id=kitchen.offer.id,
            delivery_on=day,
            idempotency_key=key,
            now=now,
        )

    await order_for(others[0], "o0")
    await order_for(others[1], "o1")
    with pytest.raises(Conflict):
        await order_for(others[2], "o2")

    booked = await service.book_seat(
        session,
        actor=diner.me,
        citizen_id=diner.citizen.id,
        activity_id=association.shared_meal.id,
        skip_delivery=True,
        now=now,
    )
    assert booked.skipped_orders == [placed.id]
    cancelled = await orders.order_details(session, actor=diner.me, order_id=placed.id)
    assert cancelled.order.status == OrderStatus.CANCELLED  # not late: nothing is owed
    assert await balance(session, diner.grant, AccountKind.RESERVED, day) == 0
    assert await balance(session, diner.grant, AccountKind.REDEEMED, day) == 0
    assert await balance(session, diner.grant, AccountKind.AVAILABLE, day) == available + 1
    # Exactly one meal of capacity came back: one more order fits, and no more.
    await order_for(others[2], "o2-again")
    fourth = await make_citizen(session, case_worker, cpr="010150-1234", name="Borger 4")
    await make_grant(session, case_worker, fourth, day - timedelta(days=day.weekday()))
    with pytest.raises(Conflict):
        await order_for(fourth, "o4")


async def test_skipping_after_the_cut_off_is_refused_and_nothing_changes(
    session, association, kitchen, diner
):
    day = association.shared_meal.held_on
    placed = await order(session, kitchen, diner, day)
    with pytest.raises(TooLateToSkip):
        await service.book_seat(
            session,
            actor=diner.me,
            citizen_id=diner.citizen.id,
            activity_id=association.shared_meal.id,
            skip_delivery=True,
            now=local_instant(day - timedelta(days=1), time(15, 0)),
        )
    line = await orders.order_details(session, actor=diner.me, order_id=placed.id)
    assert line.order.status == OrderStatus.PLACED
    assert await balance(session, diner.grant, AccountKind.RESERVED, day) == 1


async def test_seats_are_never_overbooked_and_come_back_when_cancelled(
    session, world, association, diner, caps
):
    case_worker = auth_service.actor_for(world.user("case_worker"))
    day = association.shared_meal.held_on
    now = noon_before(day)
    people = [diner.citizen.id]
    for n in range(2):
        citizen = await make_citizen(
            session, case_worker, cpr=f"0101{45 + n}-12{n}4", name=f"Gæst {n}"
        )
        people.append(citizen.id)
    first = await service.book_seat(
        session,
        actor=case_worker,
        citizen_id=people[0],
        activity_id=association.shared_meal.id,
        now=now,
    )
    await service.book_seat(
        session,
        actor=case_worker,
        citizen_id=people[1],
        activity_id=association.shared_meal.id,
        now=now,
    )
    with pytest.raises(NoSeatsLeft):
        await service.book_seat(
            session,
            actor=case_worker,
            citizen_id=people[2],
            activity_id=association.shared_meal.id,
            now=now,
        )
    cancelled = await service.cancel_booking(session, actor=diner.me, booking_id=first.booking.id)
    assert cancelled.status == SeatStatus.CANCELLED
    await service.book_seat(
        session,
        actor=case_worker,
        citizen_id=people[2],
        activity_id=association.shared_meal.id,
        now=now,
    )


async def test_figures_count_per_partner_and_area_and_the_export_names_nobody(
    session, world, association, kitchen, diner
):
    day = days_ahead(2)
    await order(session, kitchen, diner, day)
    await matched(session, association, diner, noon_before(day))
    await service.book_seat(
        session,
        actor=diner.me,
        citizen_id=diner.citizen.id,
        activity_id=association.shared_meal.id,
        now=noon_before(day),
    )
    admin = auth_service.actor_for(world.user("admin"))
    [row] = await service.participation(session, actor=admin)
    assert (row.postal_code, row.visits_planned, row.visits_held) == (
        diner.citizen.postal_code,
        1,
        0,
    )
    assert (row.seats_booked, row.seats_used, row.waiting, row.matched) == (1, 0, 0, 1)
    partner, rows = await service.report_rows(
        session, actor=association.coordinator, partner_id=association.partner.id
    )
    text = "".join(service.csv_lines(rows))
    assert text.splitlines()[0].startswith("partner,postal_code,visits_planned")
    assert "Spisevennerne" in text
    assert diner.citizen.full_name.split()[0] not in text
    other = await register(session, world, "Andre", "andre@andre.example")
    with pytest.raises(Exception) as refused:
        await service.report_rows(session, actor=other, partner_id=association.partner.id)
    assert refused.value.status_code == 404
    rows_ = await session.execute(select(WelfareNote))
    assert rows_.scalars().all() == []


def test_the_export_writes_a_formula_like_name_as_text():
    row = service.FigureRow(
        partner_id=1,
        partner_name="=HYPERLINK(1)",
        postal_code="8000",
        visits_planned=1,
        visits_held=0,
        seats_booked=0,
        seats_used=0,
        waiting=0,
        matched=0,
        average_days_to_match=None,
    )
    [_, line] = list(service.csv_lines([row]))
    assert line.startswith("'=HYPERLINK(1),8000,1,0,0,0,0,0,")
