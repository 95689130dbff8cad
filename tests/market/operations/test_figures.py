"""The figures /metrics reads from the database: orders by status and the oldest
open welfare alert's age (a fallen citizen nobody has called yet)."""

from datetime import timedelta

from market.db import utcnow
from market.operations import service
from tests.market.orders.conftest import caps, diner, kitchen  # noqa: F401 (fixtures)
from tests.market.orders.test_alerts import fail_at_the_door


async def test_open_alerts_and_the_oldest_ones_age(session, world, kitchen, diner, settings):  # noqa: F811
    before = await service.figures(session)
    assert before.open_alerts == 0 and before.oldest_open_alert_age_seconds == 0
    await fail_at_the_door(
        session, kitchen, diner, settings, "m1", raised_at=utcnow() - timedelta(hours=1)
    )
    figures = await service.figures(session)
    assert figures.open_alerts == 1
    assert 3500 < figures.oldest_open_alert_age_seconds < 3700
    assert figures.orders_by_status == {"failed": 1}
