"""The dashboard's figures, computed from rows inserted directly: approved
settlement statements, orders, co-payment statements and card payments,
welfare alerts. And the page: SVG charts with the same figures in tables."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from market.auth import service as auth_service
from market.clock import add_months, first_of_month
from market.copayments import service as copayments
from market.dashboard import service
from market.orders.models import AlertStatus, FailureReason, OrderStatus, WelfareAlert
from market.payments.models import CardPaymentStatus
from market.settlement.models import SettlementRun, Statement, StatementStatus
from providers.models import (
    Application,
    ApplicationStatus,
    Approval,
    ApprovalStatus,
    ContractTerms,
)
from tests.factories import login, make_provider
from tests.market.copayments.conftest import insert_card_payment, insert_order, last_month
from tests.market.orders.conftest import sign_in_citizen

S = OrderStatus


def admin(world):
    return auth_service.actor_for(world.user("admin"))


async def extra_approval(session, world, kitchen) -> int:
    """Another (replaced) approval of the kitchen, for a second statement of a month."""
    approval = kitchen.approval
    application_id = (
        await session.execute(
            insert(Application)
            .values(
                provider_id=approval.provider_id,
                municipality_id=approval.municipality_id,
                standard_id=approval.standard_id,
                status=ApplicationStatus.APPROVED,
                created_by_user_id=world.user("provider_admin").id,
                created_at=datetime.now(UTC),
            )
            .returning(Application.id)
        )
    ).scalar_one()
    return (
        await session.execute(
            insert(Approval)
            .values(
                provider_id=approval.provider_id,
                municipality_id=approval.municipality_id,
                service=approval.service,
                application_id=application_id,
                standard_id=approval.standard_id,
                status=ApprovalStatus.REPLACED,
                valid_from=approval.valid_from,
                valid_to=approval.valid_to,
                daily_capacity=1,
                approved_by_user_id=world.user("admin").id,
                created_at=datetime.now(UTC),
            )
            .returning(Approval.id)
        )
    ).scalar_one()


async def add_statement(
    session, world, kitchen, month_on, total_ore, status, municipality_id=None, approval_id=None
):
    municipality_id = municipality_id or world.municipality.id
    terms_id = (
        await session.execute(
            select(ContractTerms.id).where(ContractTerms.approval_id == kitchen.approval.id)
        )
    ).scalar_one()
    run_id = (
        await session.execute(
            insert(SettlementRun)
            .values(
                municipality_id=municipality_id,
                month_on=month_on,
                run_by_user_id=world.user("admin").id,
                run_at=datetime.now(UTC),
                statements=1,
                total_ore=total_ore,
            )
            .returning(SettlementRun.id)
        )
    ).scalar_one()
    approved = status == StatementStatus.APPROVED
    await session.execute(
        insert(Statement).values(
            municipality_id=municipality_id,
            provider_id=kitchen.approval.provider_id,
            approval_id=approval_id or kitchen.approval.id,
            terms_id=terms_id,
            month_on=month_on,
            status=status,
            run_id=run_id,
            total_ore=total_ore,
            prepared_by_user_id=world.user("admin").id,
            prepared_at=datetime.now(UTC),
            approved_by_user_id=world.user("admin2").id if approved else None,
            approved_at=datetime.now(UTC) if approved else None,
        )
    )


def months_ago(n: int):
    return add_months(first_of_month(service.today()), -n)


async def test_spend_is_the_sum_of_approved_statements_per_month(session, world, kitchen, diner):
    one, three = months_ago(1), months_ago(3)
    await add_statement(session, world, kitchen, one, 10_200_012, StatementStatus.APPROVED)
    second, third = (
        await extra_approval(session, world, kitchen),
        await extra_approval(session, world, kitchen),
    )
    await add_statement(
        session, world, kitchen, one, 49_988, StatementStatus.APPROVED, approval_id=second
    )
    await add_statement(session, world, kitchen, three, 5_000_000, StatementStatus.APPROVED)
    # Not counted: a draft, another municipality, a month older than twelve.
    await add_statement(
        session, world, kitchen, three, 777, StatementStatus.DRAFT, approval_id=second
    )
    await add_statement(
        session,
        world,
        kitchen,
        one,
        999,
        StatementStatus.APPROVED,
        municipality_id=world.other_municipality.id,
        approval_id=third,
    )
    await add_statement(session, world, kitchen, months_ago(13), 888, StatementStatus.APPROVED)
    view = await service.dashboard(session, actor=admin(world))
    spend = {m.month_on: m.amount_ore for m in view.spend}
    assert len(spend) == 12 and max(spend) == one and min(spend) == months_ago(12)
    assert spend[one] == 10_250_000
    assert spend[three] == 5_000_000
    assert sum(spend.values()) == view.spend_total_ore == 15_250_000


async def test_deliveries_and_on_time_rate_per_provider(session, world, kitchen, diner):
    month = last_month()
    other = await make_provider(session, name="Andet Køkken", cvr="10000017")
    for n in range(3):
        await insert_order(session, kitchen, diner, month + timedelta(days=n), S.DELIVERED)
    await insert_order(session, kitchen, diner, month, S.DELIVERED, late_minutes=1)
    for reason in (FailureReason.NOT_DELIVERED, FailureReason.CITIZEN_ABSENT):
        await insert_order(session, kitchen, diner, month, S.FAILED, failure_reason=reason)
    await insert_order(session, kitchen, diner, month, S.LATE_CANCELLED)
    await insert_order(session, kitchen, diner, month, S.CANCELLED)
    # Another month does not count.
    await insert_order(session, kitchen, diner, month - timedelta(days=1), S.DELIVERED)
    # The other provider: one on time, two late, one wrong meal → 1 / 4.
    for late in (None, 5, 60):
        await insert_order(
            session, kitchen, diner, month, S.DELIVERED, late_minutes=late, provider_id=other.id
        )
    await insert_order(
        session,
        kitchen,
        diner,
        month,
        S.FAILED,
        failure_reason=FailureReason.WRONG_MEAL,
        provider_id=other.id,
    )
    view = await service.dashboard(session, actor=admin(world), month_on=month)
    figures = {
        p.provider_name: (p.units_delivered, p.on_time, p.provider_faults, p.on_time_bp)
        for p in view.providers
    }
    assert figures == {
        "Det Gode Køkken ApS": (4, 3, 1, 6000),
        "Andet Køkken": (3, 1, 1, 2500),
    }
    empty = await service.dashboard(session, actor=admin(world), month_on=months_ago(5))
    assert empty.providers == []


async def test_copayments_per_month_are_statements_plus_captured_cards(
    session, world, kitchen, diner
):
    month = last_month()
    await insert_order(session, kitchen, diner, month, S.DELIVERED)
    await insert_order(session, kitchen, diner, month + timedelta(days=1), S.LATE_CANCELLED)
    by_card = await insert_order(session, kitchen, diner, month + timedelta(days=2), S.DELIVERED)
    pending = await insert_order(session, kitchen, diner, month + timedelta(days=3), S.DELIVERED)
    await insert_card_payment(session, diner, by_card, CardPaymentStatus.CAPTURED)
    await insert_card_payment(session, diner, pending, CardPaymentStatus.AUTHORIZED)
    await copayments.issue_month(session, actor=admin(world), month_on=month)
    view = await service.dashboard(session, actor=admin(world))
    figures = {m.month_on: (m.statements_ore, m.card_ore, m.total_ore) for m in view.copayments}
    assert figures[month] == (12000, 6000, 18000)
    assert sum(t for _, _, t in figures.values()) == 18000


async def test_open_welfare_alerts_count_and_oldest(session, world, kitchen, diner):
    month = last_month()
    raised = [datetime(month.year, month.month, d, 12, tzinfo=UTC) for d in (3, 1, 2)]
    for n, (at, status) in enumerate(
        zip(raised, (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED, AlertStatus.OPEN), strict=True)
    ):
        order_id = await insert_order(
            session,
            kitchen,
            diner,
            month + timedelta(days=n),
            S.FAILED,
            failure_reason=FailureReason.CITIZEN_ABSENT,
        )
        await session.execute(
            insert(WelfareAlert).values(
                municipality_id=world.municipality.id,
                citizen_id=diner.citizen.id,
                order_id=order_id,
                status=status,
                raised_at=at,
            )
        )
    view = await service.dashboard(session, actor=admin(world))
    assert view.open_alerts == 2
    assert view.oldest_alert_at == raised[2]


async def test_the_page_draws_svg_charts_with_tables_and_refuses_citizens(
    client, session, world, kitchen, diner
):
    month = last_month()
    await add_statement(session, world, kitchen, month, 10_637_500, StatementStatus.APPROVED)
    await insert_order(session, kitchen, diner, month, S.DELIVERED)
    await session.commit()
    await login(client, "revisor@aarhus.dk")
    page = await client.get("/dashboard")
    assert page.status_code == 200
    html = page.text
    assert html.count("<svg") == 4 and html.count('role="img"') == 4
    for chart in ("spend-chart", "units-chart", "ontime-chart", "copayments-chart"):
        assert f'<title id="{chart}-title">' in html and f'<desc id="{chart}-desc">' in html
    spend = html[html.index('id="spend-heading"') : html.index('id="deliveries-heading"')]
    chart = spend[spend.index("<svg") : spend.index("</svg>")]
    table = spend[spend.index("</svg>") :]
    # The same figure in the chart's label, in the table beside it, and as the total.
    assert chart.count(">106,375.00 kr.</text>") == 1
    assert 'width="300.0"' in chart  # the only month with spend draws the longest bar
    assert table.count("<td>106,375.00 kr.</td>") == 1
    assert "Together: 106,375.00 kr." in spend
    assert "Det Gode Køkken ApS" in html and "100.0 %" in html
    assert html.count('<th scope="row">') >= 12 + 1 + 12
    client.cookies.clear()
    await sign_in_citizen(client, session, diner)
    assert (await client.get("/dashboard")).status_code == 403
    home = await client.get("/")
    assert 'href="/dashboard"' not in home.text


async def test_the_admin_finds_the_dashboard_on_the_start_page(client, world):
    await login(client, "admin@aarhus.dk")
    home = await client.get("/")
    assert home.text.count('href="/dashboard"') == 2  # tile and menu
    assert (await client.get("/dashboard?month=2026-13")).status_code == 422
