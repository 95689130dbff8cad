"""The settlement demo: an approved earlier month with an adjustment, and the
last month as a draft for the second admin."""

from datetime import time, timedelta

from sqlalchemy import func, insert, select

from market.audit import service as audit
from market.clock import local_instant
from market.orders.models import Order, OrderStatus
from market.settlement import demo
from market.settlement.models import Adjustment, Statement, StatementLineOrder
from tests.market.settlement.conftest import EARLIER, PREVIOUS, _row


async def test_demo_settles_two_past_months(session, contract, world):
    # The order demo has placed and fulfilled meals in both past months.
    for month in (EARLIER, PREVIOUS):
        for n in range(3):
            day = month + timedelta(days=n)
            await session.execute(
                insert(Order).values(
                    **_row(
                        contract,
                        day,
                        OrderStatus.DELIVERED,
                        delivered_at=local_instant(day, time(12)),
                        placed_at=local_instant(day - timedelta(days=2), time(9)),
                        idempotency_key=f"test-demo:{day}:{n}",
                    )
                )
            )
    logins = await demo.seed(
        session,
        municipalities=[world.municipality, world.other_municipality],
        users={
            "admin@aarhus.example": world.user("admin"),
            "admin2@aarhus.example": world.user("admin2"),
        },
        password="x",
        settings=None,
    )
    assert logins and "/settlement" in logins[0][1]
    months = select(Statement.month_on, Statement.status).order_by(Statement.month_on)
    assert (await session.execute(months)).all() == [(EARLIER, "approved"), (PREVIOUS, "draft")]
    adjustment = (await session.execute(select(Adjustment))).scalar_one()
    assert adjustment.amount_ore == -4250 and adjustment.applied_statement_id is None
    assert await session.scalar(select(func.count()).select_from(StatementLineOrder)) > 0
    assert (await audit.verify(session, municipality_id=world.municipality.id)).ok
