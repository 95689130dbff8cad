"""The risk score on hand-computed data, the level it gives, and the page."""

from datetime import time, timedelta
from decimal import Decimal

from market.clock import local_instant, today
from market.orders.models import FailureReason, Order, OrderStatus, Rating
from market.supervision import service
from market.supervision.repository import OrderFigures, RatingFigures
from market.supervision.service import SupervisionLevel
from tests.factories import login, make_provider


def test_formula_by_hand():
    # 8 delivered (1 late), 2 provider-fault failures: volume 10.
    # Incidents: 100 × (3 × 1 complaint + 1 × 1 late + 2 × 2 failures) / 10 = 80.
    # Ratings 1, 2, 4, 5: average 3.0, so 10 × (4 − 3) = 10. Score 90.0: stricter.
    risk = service.risk_score(
        OrderFigures(delivered=8, late=1, provider_failures=2),
        RatingFigures(ratings=4, stars=12, complaints=1),
    )
    assert (risk.incident_points, risk.rating_points, risk.score) == (
        Decimal("80.0"),
        Decimal("10.0"),
        Decimal("90.0"),
    )
    assert risk.level == SupervisionLevel.STRICT and risk.volume == 10


def test_threshold_and_no_volume():
    # 100 delivered, 19 late: 19 points, just under the threshold of 20.
    assert service.risk_score(OrderFigures(delivered=100, late=19), RatingFigures()).level == (
        SupervisionLevel.NORMAL
    )
    at = service.risk_score(OrderFigures(delivered=100, late=20), RatingFigures())
    assert at.score == Decimal("20.0") and at.level == SupervisionLevel.STRICT
    # Good ratings never lower the score below the incidents.
    good = service.risk_score(OrderFigures(delivered=10), RatingFigures(ratings=2, stars=10))
    assert good.score == Decimal("0.0")
    assert service.risk_score(OrderFigures(), RatingFigures(ratings=1, stars=1)).score == 0


async def test_scores_from_orders_and_ratings_in_the_database(
    client, session, world, kitchen, diner
):
    day = today() - timedelta(days=2)
    window_end = local_instant(day, time(13, 0))
    rival = await make_provider(session, name="Konkurrenten ApS", cvr="20000008")

    def order(n, provider_id, status, *, late=False, reason=None, on=day):
        return Order(
            municipality_id=world.municipality.id,
            citizen_id=diner.citizen.id,
            grant_id=diner.grant.id,
            provider_id=provider_id,
            approval_id=kitchen.approval.id,
            offer_id=kitchen.offer.id,
            delivery_on=on,
            unit_price_ore=8500,
            copayment_ore=6000,
            status=status,
            failure_reason=reason,
            cutoff_at=window_end - timedelta(days=1),
            accept_by_at=window_end - timedelta(hours=4),
            window_end_at=local_instant(on, time(13, 0)),
            delivered_at=(
                (window_end + timedelta(minutes=20) if late else window_end - timedelta(hours=1))
                if status == OrderStatus.DELIVERED
                else None
            ),
            idempotency_key=f"risk-{n}",
            placed_by_user_id=diner.me.user_id,
        )

    ours = kitchen.approval.provider_id
    orders = [order(n, ours, OrderStatus.DELIVERED, late=(n == 0)) for n in range(8)]
    orders += [
        order(8, ours, OrderStatus.FAILED, reason=FailureReason.NOT_DELIVERED),
        order(9, ours, OrderStatus.FAILED, reason=FailureReason.WRONG_MEAL),
        order(10, ours, OrderStatus.FAILED, reason=FailureReason.CITIZEN_ABSENT),  # not theirs
        order(11, ours, OrderStatus.CANCELLED),
        order(12, ours, OrderStatus.FAILED, reason=FailureReason.TOO_LATE, on=day - timedelta(90)),
    ]
    orders += [order(20 + n, rival.id, OrderStatus.DELIVERED) for n in range(5)]
    session.add_all(orders)
    await session.flush()
    for stars, comment, target in (
        (1, "Maden var kold", orders[1]),  # a complaint
        (2, "", orders[2]),  # low, but no comment: not a complaint
        (4, "", orders[3]),
        (5, "Dejligt", orders[4]),
    ):
        session.add(Rating(order_id=target.id, provider_id=ours, stars=stars, comment=comment))
    await session.commit()

    scores = await service.risk_scores(session, municipality_id=world.municipality.id, on=today())
    mine = scores[ours]
    assert (mine.delivered, mine.late, mine.provider_failures) == (8, 1, 2)
    assert (mine.ratings, mine.complaints, mine.average_stars) == (4, 1, Decimal("3.0"))
    assert mine.score == Decimal("90.0") and mine.level == SupervisionLevel.STRICT
    assert scores[rival.id].score == 0 and scores[rival.id].level == SupervisionLevel.NORMAL
    other = await service.risk_scores(
        session, municipality_id=world.other_municipality.id, on=today()
    )
    assert other == {}

    await login(client, "admin@aarhus.dk")
    page = await client.get("/supervision")
    assert page.status_code == 200
    assert "Det Gode Køkken ApS" in page.text and "Stricter supervision" in page.text
    assert "90.0" in page.text and "incidents 80.0 + ratings 10.0" in page.text
    assert 'href="/supervision"' in (await client.get("/providers")).text


async def test_providers_cannot_see_supervision(client, world):
    await login(client, "chef@godekoekken.dk")
    assert (await client.get("/supervision")).status_code == 403
