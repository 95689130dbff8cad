"""The settlement through the database: a month of orders in, stored statements
out, to the øre; re-runs, four eyes, unfinished orders, adjustments, the audit head."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from market.audit import service as audit
from market.audit.models import AuditChainHead, AuditEvent
from market.clock import first_of_month, parse_month, today
from market.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from market.orders.models import Order, OrderStatus
from market.settlement import service
from market.settlement.models import (
    Adjustment,
    Statement,
    StatementLine,
    StatementLineOrder,
    StatementStatus,
)
from tests.market.settlement.conftest import EARLIER, PREVIOUS, insert_month, set_terms

WORKED_EXAMPLE = {
    "on_time": 1150,
    "late": 100,
    "provider_fault": 30,
    "absent": 12,
    "late_cancelled": 7,
}


async def the_statement(session, contract, month_on=PREVIOUS) -> Statement:
    result = await session.execute(
        select(Statement)
        .where(Statement.approval_id == contract.approval_id, Statement.month_on == month_on)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one()


async def lines(session, statement_id: int) -> list[tuple[str, int, int, int | None]]:
    result = await session.execute(
        select(
            StatementLine.kind,
            StatementLine.quantity,
            StatementLine.amount_ore,
            StatementLine.rate_bp,
        )
        .where(StatementLine.statement_id == statement_id)
        .order_by(StatementLine.position)
    )
    return [tuple(row) for row in result.all()]


async def links(session, statement_id: int) -> dict[str, int]:
    result = await session.execute(
        select(StatementLine.kind, func.count())
        .join(StatementLineOrder, StatementLineOrder.line_id == StatementLine.id)
        .where(StatementLine.statement_id == statement_id)
        .group_by(StatementLine.kind)
    )
    return dict(result.all())


async def test_the_worked_example_of_design_md_is_stored_to_the_ore(session, contract):
    await insert_month(session, contract, PREVIOUS, **WORKED_EXAMPLE, cancelled=5)
    seen: list[tuple[int, int]] = []
    run = await service.run_month(
        session,
        actor=contract.admin,
        month_on=PREVIOUS,
        progress=lambda done, total: seen.append((done, total)),
    )
    await session.commit()
    assert run.statements == 1 and run.total_ore == 10_179_812
    assert seen == [(0, 1), (1, 1)]
    statement = await the_statement(session, contract)
    assert statement.status == StatementStatus.DRAFT and statement.total_ore == 10_179_812
    assert (
        statement.delivered,
        statement.delivered_on_time,
        statement.provider_fault_failures,
        statement.citizen_absent,
        statement.late_cancelled,
        statement.unfinished_orders,
    ) == (1250, 1150, 30, 12, 7, 0)
    assert await lines(session, statement.id) == [
        ("delivered", 1200, 10_200_000, None),
        ("delivered_above_rebate_threshold", 50, 403_750, 500),
        ("citizen_absent", 12, 76_500, 7500),
        ("late_cancelled", 7, 29_750, 5000),
        ("sla_malus", 5, -530_188, 500),  # 530,187.5 øre rounds half-even to 530,188
    ]
    # Every order that ended in one of the outcomes stands behind exactly one line;
    # the five timely cancellations behind none.
    assert await links(session, statement.id) == {
        "delivered": 1200,
        "delivered_above_rebate_threshold": 50,
        "citizen_absent": 12,
        "late_cancelled": 7,
        "sla_malus": 30,
    }
    linked = await session.scalar(select(func.count(func.distinct(StatementLineOrder.order_id))))
    assert linked == 1250 + 30 + 12 + 7
    event = (
        await session.execute(select(AuditEvent).where(AuditEvent.action == "settlement.run"))
    ).scalar_one()
    assert '"total_ore":10179812' in event.data_json


async def test_rerunning_the_same_data_gives_the_same_statement(session, contract):
    await insert_month(session, contract, PREVIOUS, **WORKED_EXAMPLE)
    await service.run_month(session, actor=contract.admin, month_on=PREVIOUS)
    first = await the_statement(session, contract)
    first_lines = await lines(session, first.id)
    first_links = await links(session, first.id)
    await service.run_month(session, actor=contract.admin2, month_on=PREVIOUS)
    second = await the_statement(session, contract)
    assert second.id == first.id and second.total_ore == first.total_ore
    assert await lines(session, second.id) == first_lines
    assert await links(session, second.id) == first_links
    assert second.prepared_by_user_id == contract.admin2.user_id
    assert await session.scalar(select(func.count()).select_from(StatementLine)) == len(first_lines)


async def test_a_month_that_has_not_ended_cannot_be_run(session, contract):
    this_month = first_of_month(today())
    with pytest.raises(InvalidInput) as refused:
        await service.run_month(session, actor=contract.admin, month_on=this_month)
    assert refused.value.status_code == 422
    assert "has not ended" in str(refused.value)
    assert await session.scalar(select(func.count()).select_from(Statement)) == 0


async def test_guarantee_shortfall_is_paid_with_no_orders_at_all(session, contract):
    run = await service.run_month(session, actor=contract.admin, month_on=PREVIOUS)
    statement = await the_statement(session, contract)
    # 1,000 units short at 50 % of 85.00 kr.
    assert await lines(session, statement.id) == [("volume_guarantee", 1000, 4_250_000, 5000)]
    assert run.total_ore == statement.total_ore == 4_250_000


async def test_no_statement_without_orders_or_guarantee(session, contract):
    await set_terms(session, contract, unit_price_ore=8500)
    run = await service.run_month(session, actor=contract.admin, month_on=PREVIOUS)
    assert run.statements == 0
    assert await session.scalar(select(func.count()).select_from(Statement)) == 0


@pytest.mark.parametrize(
    ("terms", "orders", "expected"),
    [
        pytest.param(
            {"rebate_threshold_units": 10, "rebate_bp": 1000},
            {"on_time": 12},
            [
                ("delivered", 10, 85_000, None),
                ("delivered_above_rebate_threshold", 2, 15_300, 1000),
            ],
            id="rebate-threshold",
        ),
        pytest.param(
            {"on_time_target_bp": 9500, "malus_bp_per_point": 200, "malus_cap_bp": 300},
            {"on_time": 5, "late": 5},
            # 50 %: 45 points below, 90 % malus capped at 3 % of 850.00 kr.
            [("delivered", 10, 85_000, None), ("sla_malus", 45, -2550, 300)],
            id="malus-cap",
        ),
        pytest.param(
            {"bonus_threshold_bp": 9000, "bonus_bp": 150},
            {"on_time": 9, "late": 1},
            [("delivered", 10, 85_000, None), ("sla_bonus", 1, 1275, 150)],
            id="bonus",
        ),
        pytest.param(
            {"citizen_absent_share_bp": 7500, "late_cancel_share_bp": 5000},
            {"absent": 3, "late_cancelled": 2},
            [("citizen_absent", 3, 19_125, 7500), ("late_cancelled", 2, 8500, 5000)],
            id="absent-and-late-cancel-shares",
        ),
        pytest.param(
            {"unit_price_ore": 8501, "citizen_absent_share_bp": 5000},
            {"absent": 3},
            [("citizen_absent", 3, 12_752, 5000)],  # 12,751.5 øre → 12,752 (even)
            id="rounding-half-even-up",
        ),
        pytest.param(
            {"unit_price_ore": 8501, "citizen_absent_share_bp": 5000},
            {"absent": 1},
            [("citizen_absent", 1, 4250, 5000)],  # 4,250.5 øre → 4,250 (even)
            id="rounding-half-even-down",
        ),
        pytest.param(
            {"min_units_per_month": 20, "shortfall_rate_bp": 4000},
            {"on_time": 5, "absent": 2, "provider_fault": 4},
            [
                ("delivered", 5, 42_500, None),
                ("citizen_absent", 2, 0, 0),
                ("volume_guarantee", 13, 44_200, 4000),
            ],
            id="guarantee-shortfall",
        ),
    ],
)
async def test_each_term_through_the_database(session, contract, terms, orders, expected):
    await set_terms(session, contract, **terms)
    await insert_month(session, contract, PREVIOUS, **orders)
    await service.run_month(session, actor=contract.admin, month_on=PREVIOUS)
    statement = await the_statement(session, contract)
    assert await lines(session, statement.id) == expected
    assert statement.total_ore == sum(amount for _, _, amount, _ in expected)


async def test_the_preparer_cannot_approve(session, contract):
    await insert_month(session, contract, PREVIOUS, on_time=10)
    await service.run_month(session, actor=contract.admin, month_on=PREVIOUS)
    statement = await the_statement(session, contract)
    with pytest.raises(PermissionDenied) as refused:
        await service.approve_statement(session, actor=contract.admin, statement_id=statement.id)
    assert refused.value.status_code == 403 and "four eyes" in str(refused.value)
    with pytest.raises(PermissionDenied):
        await service.approve_month(session, actor=contract.admin, month_on=PREVIOUS)
    assert (await the_statement(session, contract)).status == StatementStatus.DRAFT


async def test_the_database_backs_four_eyes(session, contract):
    from sqlalchemy.exc import IntegrityError

    await insert_month(session, contract, PREVIOUS, on_time=1)
    await service.run_month(session, actor=contract.admin, month_on=PREVIOUS)
    await session.commit()
    statement = await the_statement(session, contract)
    with pytest.raises(IntegrityError):
        async with session.begin_nested():
            await session.execute(
                update(Statement)
                .where(Statement.id == statement.id)
                .values(approved_by_user_id=contract.admin.user_id)
            )


async def test_approval_records_the_audit_head_and_the_chain_still_verifies(session, contract):
    await insert_month(session, contract, PREVIOUS, **WORKED_EXAMPLE)
    await service.run_month(session, actor=contract.admin, month_on=PREVIOUS)
    chain = audit.chain_for(contract.ids["municipality"])
    head_before = await session.get(AuditChainHead, chain, populate_existing=True)
    seq_before, hash_before = head_before.seq, head_before.hash
    statement = await the_statement(session, contract)
    approved = await service.approve_statement(
        session, actor=contract.admin2, statement_id=statement.id
    )
    assert approved.status == StatementStatus.APPROVED
    assert approved.approved_by_user_id == contract.admin2.user_id
    assert (approved.audit_chain_seq, approved.audit_chain_hash) == (seq_before, hash_before)
    event = (
        await session.execute(
            select(AuditEvent).where(AuditEvent.action == "settlement.statement_approved")
        )
    ).scalar_one()
    # The approval's own event links right onto the recorded head.
    assert (event.seq, event.prev_hash) == (seq_before + 1, hash_before)
    assert f'"audit_chain_hash":"{hash_before}"' in event.data_json
    assert '"total_ore":10179812' in event.data_json and '"amount_ore":-530188' in event.data_json
    report = await audit.verify(session, municipality_id=contract.ids["municipality"])
    assert report.ok


async def test_rerun_leaves_an_approved_statement_untouched(session, contract):
    await insert_month(session, contract, PREVIOUS, on_time=10)
    await service.run_month(session, actor=contract.admin, month_on=PREVIOUS)
    statement = await the_statement(session, contract)
    await service.approve_statement(session, actor=contract.admin2, statement_id=statement.id)
    before = await lines(session, statement.id)
    assert before[0] == ("delivered", 10, 85_000, None)
    await insert_month(session, contract, PREVIOUS, on_time=3)  # late-arriving data
    run = await service.run_month(session, actor=contract.admin, month_on=PREVIOUS)
    assert run.statements == 0
    after = await the_statement(session, contract)
    assert after.status == StatementStatus.APPROVED and after.total_ore == statement.total_ore
    assert await lines(session, statement.id) == before
    with pytest.raises(Conflict) as refused:
        await service.approve_statement(session, actor=contract.admin2, statement_id=statement.id)
    assert refused.value.status_code == 409


async def test_approving_with_unfinished_orders_is_refused(session, contract):
    await insert_month(session, contract, PREVIOUS, on_time=10, unfinished=3)
    await service.run_month(session, actor=contract.admin, month_on=PREVIOUS)
    statement = await the_statement(session, contract)
    assert statement.unfinished_orders == 3 and statement.delivered == 10
    with pytest.raises(Conflict) as refused:
        await service.approve_statement(session, actor=contract.admin2, statement_id=statement.id)
    assert refused.value.status_code == 409 and "3 orders" in str(refused.value)
    assert (await the_statement(session, contract)).status == StatementStatus.DRAFT


async def test_orders_changed_after_the_run_must_be_rerun_first(session, contract):
    await insert_month(session, contract, PREVIOUS, on_time=10)
    await service.run_month(session, actor=contract.admin, month_on=PREVIOUS)
    await insert_month(session, contract, PREVIOUS, absent=1)
    statement = await the_statement(session, contract)
    with pytest.raises(Conflict) as refused:
        await service.approve_statement(session, actor=contract.admin2, statement_id=statement.id)
    assert "Run the month again" in str(refused.value)


async def test_an_adjustment_is_carried_into_the_next_month(session, contract):
    await set_terms(session, contract, unit_price_ore=8500)
    await insert_month(session, contract, EARLIER, on_time=10)
    await service.run_month(session, actor=contract.admin, month_on=EARLIER)
    october = await the_statement(session, contract, EARLIER)
    with pytest.raises(Conflict):  # a draft is corrected by re-running, not adjusted
        await service.add_adjustment(
            session, actor=contract.admin, statement_id=october.id, amount_ore=-100, reason="x"
        )
    await service.approve_statement(session, actor=contract.admin2, statement_id=october.id)
    with pytest.raises(InvalidInput):
        await service.add_adjustment(
            session, actor=contract.admin, statement_id=october.id, amount_ore=-100, reason=" "
        )
    adjustment = await service.add_adjustment(
        session,
        actor=contract.admin,
        statement_id=october.id,
        amount_ore=-17_000,
        reason="2 meals counted twice",
    )
    assert adjustment.applied_statement_id is None
    await insert_month(session, contract, PREVIOUS, on_time=4)
    await service.run_month(session, actor=contract.admin, month_on=PREVIOUS)
    november = await the_statement(session, contract, PREVIOUS)
    assert await lines(session, november.id) == [
        ("delivered", 4, 34_000, None),
        ("adjustment", 1, -17_000, None),
    ]
    assert november.total_ore == 17_000
    view = await service.statement_view(session, actor=contract.auditor, statement_id=november.id)
    assert "2 meals counted twice" in view.lines[-1].text_in("en")
    from market.templating import month_words

    assert month_words(EARLIER, "da") in view.lines[-1].text_in("da")
    assert (
        view.lines[-1]
        .text_in("en")
        .startswith(f"Correction of the statement for {month_words(EARLIER, 'en')}:")
    )
    # The October statement itself never changed.
    assert (await the_statement(session, contract, EARLIER)).total_ore == 85_000
    await service.approve_statement(session, actor=contract.admin2, statement_id=november.id)
    applied = await session.get(Adjustment, adjustment.id, populate_existing=True)
    assert applied.applied_statement_id == november.id


async def test_settlement_is_scoped_to_the_actors_municipality(session, contract, world):
    from tests.providers.conftest import actor

    await insert_month(session, contract, PREVIOUS, on_time=2)
    await service.run_month(session, actor=contract.admin, month_on=PREVIOUS)
    statement = await the_statement(session, contract)
    odense = actor(world, "odense_admin")
    with pytest.raises(NotFound):
        await service.statement_view(session, actor=odense, statement_id=statement.id)
    with pytest.raises(NotFound):
        await service.approve_statement(session, actor=odense, statement_id=statement.id)
    with pytest.raises(PermissionDenied):
        await service.run_month(session, actor=contract.auditor, month_on=PREVIOUS)
    odense_run = await service.run_month(session, actor=odense, month_on=PREVIOUS)
    assert odense_run.statements == 0


async def test_drill_down_reads_lines_orders_and_events(session, contract):
    from tests.market.settlement.conftest import add_order_event

    await set_terms(session, contract, citizen_absent_share_bp=7500)
    await insert_month(session, contract, PREVIOUS, on_time=3, late=2, absent=1)
    await service.run_month(session, actor=contract.admin, month_on=PREVIOUS)
    statement = await the_statement(session, contract)
    view = await service.statement_view(session, actor=contract.auditor, statement_id=statement.id)
    assert [(lv.line.kind, lv.orders) for lv in view.lines] == [
        ("delivered", 5),
        ("citizen_absent", 1),
    ]
    assert view.prepared_by and view.approved_by is None and view.terms.version == 1
    page = await service.line_orders(
        session, actor=contract.auditor, line_id=view.lines[0].line.id, per_page=2
    )
    assert page.total == 5 and page.pages == 3 and len(page.orders) == 2
    assert page.orders[0].citizen == "Karen J."
    outcomes = await service.line_orders(
        session, actor=contract.auditor, line_id=view.lines[0].line.id, per_page=50
    )
    assert sorted(o.outcome for o in outcomes.orders) == [
        "late",
        "late",
        "on_time",
        "on_time",
        "on_time",
    ]
    order_id = outcomes.orders[0].order_id
    await add_order_event(session, order_id, OrderStatus.DELIVERED, contract.kitchen.staff.user_id)
    history = await service.order_history(session, actor=contract.auditor, order_id=order_id)
    assert history.line is not None and history.line.id == view.lines[0].line.id
    assert [e.to_status for e, _ in history.events] == [OrderStatus.DELIVERED]
    count_orders = await session.scalar(select(func.count()).select_from(Order))
    assert count_orders == 6


async def test_months_overview_lists_recent_months_and_their_status(session, contract):
    await insert_month(session, contract, PREVIOUS, on_time=2)
    await service.run_month(session, actor=contract.admin, month_on=PREVIOUS)
    months = await service.months(session, actor=contract.auditor)
    by_month = {m.month_on: m for m in months}
    assert by_month[PREVIOUS].status == "draft" and by_month[PREVIOUS].statements == 1
    assert by_month[EARLIER].status == "not_run" and by_month[EARLIER].ended
    assert not by_month[first_of_month(today())].ended
    assert months[0].month_on > months[-1].month_on
    assert PREVIOUS - timedelta(days=1) < PREVIOUS


def test_months_parse_and_refuse_what_is_not_a_month():
    assert parse_month("2026-10").isoformat() == "2026-10-01"
    with pytest.raises(InvalidInput):
        parse_month("oktober")
    with pytest.raises(InvalidInput):
        parse_month("2026-13")
    assert service.parse_signed_kroner("-12,50") == -1250
    assert service.parse_signed_kroner("1.250,00") == 125_000
