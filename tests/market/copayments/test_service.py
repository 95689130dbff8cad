"""Issuing a month's co-payment statements: a line per owed order, card-paid
orders left out, citizen-absent failures only with the municipality's
setting, nothing ever charged twice."""

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from market.audit.models import AuditEvent
from market.auth import service as auth_service
from market.clock import first_of_month
from market.copayments import service
from market.copayments.exceptions import MonthNotEnded, NothingNewToCharge
from market.copayments.models import CopaymentStatement, CopaymentStatementLine
from market.errors import NotFound, PermissionDenied
from market.municipalities.models import Municipality
from market.orders.models import FailureReason, OrderStatus
from market.payments.models import CardPayment, CardPaymentStatus
from tests.market.copayments.conftest import insert_card_payment, insert_order
from tests.market.orders.conftest import Diner
from tests.vouchers.conftest import make_citizen, make_grant

S = OrderStatus


def admin(world):
    return auth_service.actor_for(world.user("admin"))


async def every_outcome(session, kitchen, diner, month) -> dict[str, int]:
    """One order of each way an order can end, on separate days of the month."""
    made = {}
    outcomes = [
        ("delivered", S.DELIVERED, None),
        ("delivered_late", S.DELIVERED, None),
        ("late_cancelled", S.LATE_CANCELLED, None),
        ("absent", S.FAILED, FailureReason.CITIZEN_ABSENT),
        ("not_delivered", S.FAILED, FailureReason.NOT_DELIVERED),
        ("too_late", S.FAILED, FailureReason.TOO_LATE),
        ("wrong_meal", S.FAILED, FailureReason.WRONG_MEAL),
        ("cancelled", S.CANCELLED, None),
        ("rejected", S.REJECTED, None),
        ("expired", S.EXPIRED, None),
    ]
    for n, (name, status, reason) in enumerate(outcomes):
        made[name] = await insert_order(
            session,
            kitchen,
            diner,
            month + timedelta(days=n),
            status,
            failure_reason=reason,
            late_minutes=45 if name == "delivered_late" else None,
        )
    return made


async def lines(session) -> dict[int, tuple[str, int]]:
    rows = (await session.execute(select(CopaymentStatementLine))).scalars().all()
    return {r.order_id: (r.outcome, r.amount_ore) for r in rows}


async def test_a_line_per_owed_order_and_never_for_a_providers_failure(
    session, world, kitchen, diner, month
):
    made = await every_outcome(session, kitchen, diner, month)
    result = await service.issue_month(session, actor=admin(world), month_on=month)
    charged = await lines(session)
    assert charged == {
        made["delivered"]: ("delivered", 6000),
        made["delivered_late"]: ("delivered", 6000),
        made["late_cancelled"]: ("late_cancelled", 6000),
    }
    [statement] = (await session.execute(select(CopaymentStatement))).scalars().all()
    assert (statement.citizen_id, statement.month_on, statement.sequence) == (
        diner.citizen.id,
        month,
        1,
    )
    assert (statement.total_ore, statement.lines) == (18000, 3)
    assert (result.lines, result.total_ore, result.statement_ids) == (3, 18000, [statement.id])
    event = (
        await session.execute(
            select(AuditEvent).where(AuditEvent.action == "copayment_statements.issued")
        )
    ).scalar_one()
    assert event.entity_id == str(world.municipality.id)


async def test_citizen_absent_is_charged_only_with_the_municipalitys_setting(
    session, world, kitchen, diner, month
):
    made = await every_outcome(session, kitchen, diner, month)
    await session.execute(
        update(Municipality)
        .where(Municipality.id == world.municipality.id)
        .values(charge_copayment_when_absent=True)
    )
    await service.issue_month(session, actor=admin(world), month_on=month)
    charged = await lines(session)
    assert charged[made["absent"]] == ("citizen_absent", 6000)
    assert set(charged) == {
        made["delivered"],
        made["delivered_late"],
        made["late_cancelled"],
        made["absent"],
    }


async def test_card_paid_orders_are_left_out_and_a_declined_card_is_charged_later(
    session, world, kitchen, diner, month
):
    paid = await insert_order(session, kitchen, diner, month, S.DELIVERED)
    capturing = await insert_order(session, kitchen, diner, month + timedelta(days=1), S.DELIVERED)
    declined = await insert_order(session, kitchen, diner, month + timedelta(days=2), S.DELIVERED)
    invoice = await insert_order(session, kitchen, diner, month + timedelta(days=3), S.DELIVERED)
    await insert_card_payment(session, diner, paid, CardPaymentStatus.CAPTURED)
    await insert_card_payment(session, diner, capturing, CardPaymentStatus.AUTHORIZED)
    await insert_card_payment(session, diner, declined, CardPaymentStatus.DECLINED)
    first = await service.issue_month(session, actor=admin(world), month_on=month)
    assert set(await lines(session)) == {declined, invoice}
    assert first.total_ore == 12000
    # The authorised payment's capture is refused by the bank after the month was issued.
    await session.execute(
        update(CardPayment)
        .where(CardPayment.order_id == capturing)
        .values(status=CardPaymentStatus.DECLINED)
    )
    second = await service.issue_month(session, actor=admin(world), month_on=month)
    assert set(await lines(session)) == {declined, invoice, capturing}
    assert (second.lines, second.total_ore) == (1, 6000)
    statements = (
        (await session.execute(select(CopaymentStatement).order_by(CopaymentStatement.sequence)))
        .scalars()
        .all()
    )
    assert [(s.sequence, s.total_ore, s.lines) for s in statements] == [(1, 12000, 2), (2, 6000, 1)]


async def test_issuing_again_charges_nothing_twice_and_says_so(
    session, world, kitchen, diner, month
):
    await every_outcome(session, kitchen, diner, month)
    await service.issue_month(session, actor=admin(world), month_on=month)
    before = await lines(session)
    statements = (await session.execute(select(func.count(CopaymentStatement.id)))).scalar_one()
    with pytest.raises(NothingNewToCharge) as refused:
        await service.issue_month(session, actor=admin(world), month_on=month)
    assert "Nothing new to charge" in str(refused.value)
    assert refused.value.status_code == 409
    assert await lines(session) == before
    assert (await session.execute(select(func.count(CopaymentStatement.id)))).scalar_one() == (
        statements
    )
    # A meal delivered in the month but recorded late is charged on its own.
    late = await insert_order(session, kitchen, diner, month + timedelta(days=20), S.DELIVERED)
    again = await service.issue_month(session, actor=admin(world), month_on=month)
    assert (again.lines, again.total_ore) == (1, 6000)
    assert set(await lines(session)) - set(before) == {late}


async def test_one_statement_per_citizen_with_their_own_orders_only(
    session, world, kitchen, diner, month
):
    case_worker = auth_service.actor_for(world.user("case_worker"))
    other = await make_citizen(
        session, case_worker, cpr="020250-4321", name="Anna Andersen", postal_code="8200"
    )
    grant = await make_grant(
        session, case_worker, other, diner.grant.valid_from, copayment_ore=4500
    )
    other_diner = Diner(citizen=other, grant=grant, me=replace(diner.me))
    await insert_order(session, kitchen, diner, month, S.DELIVERED)
    await insert_order(session, kitchen, diner, month + timedelta(days=1), S.DELIVERED)
    await insert_order(session, kitchen, other_diner, month, S.DELIVERED, copayment_ore=4500)
    # Outside the month, and a meal with no co-payment: neither is charged.
    await insert_order(session, kitchen, diner, month - timedelta(days=1), S.DELIVERED)
    await insert_order(session, kitchen, diner, month + timedelta(days=40), S.DELIVERED)
    await insert_order(
        session, kitchen, other_diner, month + timedelta(days=2), S.DELIVERED, copayment_ore=0
    )
    await service.issue_month(session, actor=admin(world), month_on=month)
    totals = {
        s.citizen_id: (s.total_ore, s.lines)
        for s in (await session.execute(select(CopaymentStatement))).scalars()
    }
    assert totals == {diner.citizen.id: (12000, 2), other.id: (4500, 1)}


async def test_only_ended_months_of_the_admins_own_municipality(
    session, world, kitchen, diner, month
):
    await insert_order(session, kitchen, diner, month, S.DELIVERED)
    this_month = first_of_month(service.today())
    with pytest.raises(MonthNotEnded):
        await service.issue_month(session, actor=admin(world), month_on=this_month)
    with pytest.raises(PermissionDenied):
        await service.issue_month(
            session, actor=auth_service.actor_for(world.user("auditor")), month_on=month
        )
    with pytest.raises(NothingNewToCharge):  # Odense has no orders of Aarhus
        await service.issue_month(
            session, actor=auth_service.actor_for(world.user("odense_admin")), month_on=month
        )
    assert await lines(session) == {}


async def test_a_proxy_reads_the_statements_of_a_linked_citizen_only(
    session, world, kitchen, diner, month, settings
):
    from vouchers import service as vouchers

    await insert_order(session, kitchen, diner, month, S.DELIVERED)
    await service.issue_month(session, actor=admin(world), month_on=month)
    case_worker = auth_service.actor_for(world.user("case_worker"))
    linked = await vouchers.link_proxy(
        session,
        actor=case_worker,
        settings=settings,
        citizen_id=diner.citizen.id,
        full_name="Mads Jensen",
        email="mads@example.dk",
    )
    proxy = auth_service.actor_for(linked.user)
    view = await service.own_statements(session, actor=proxy)
    assert view.citizen.id == diner.citizen.id
    assert [s.statement.total_ore for s in view.statements] == [6000]
    stranger = await make_citizen(session, case_worker, cpr="030360-1111", name="Ole Hansen")
    with pytest.raises(NotFound):
        await service.own_statements(session, actor=proxy, citizen_id=stranger.id)
    with pytest.raises(NotFound):
        await service.own_statements(session, actor=diner.me, citizen_id=stranger.id)
