"""Differentiated supervision: a provider risk score per municipality from the
last 90 days, and the supervision level it leads to.

The formula, with every weight named here and nowhere else:

    volume          V = delivered meals + failed deliveries of the provider's fault
                        (not delivered, refused as too late, wrong meal)
    incident points I = 100 × (W_COMPLAINT × complaints
                               + W_LATE × late deliveries
                               + W_FAILED × provider-fault failures) / V
    rating points   R = W_LOW_RATING × max(0, TARGET_STARS − average stars)
                        (0 when there are no ratings)
    score             = I + R, rounded half-even to one decimal; 0 when V = 0

A complaint is a rating of 1 or 2 stars with a comment. A late delivery is one
delivered after the end of its delivery window. Citizen-absent failures are
not the provider's fault and do not count. With the weights below, 5 % late
deliveries give 5 points, 5 % provider-fault failures 10, 5 % complaints 15,
and an average of 3 stars 10.

    level = "skærpet tilsyn" (stricter supervision) when score ≥ STRICT_THRESHOLD,
            otherwise "normal".
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.permissions import Actor, municipality_scope
from market.clock import today
from market.errors import N_, PermissionDenied
from market.supervision import repository
from market.supervision.repository import OrderFigures, RatingFigures
from providers import service as providers
from providers.models import Provider

PERIOD_DAYS = 90
W_COMPLAINT = Decimal(3)
W_LATE = Decimal(1)
W_FAILED = Decimal(2)
W_LOW_RATING = Decimal(10)
TARGET_STARS = Decimal(4)
STRICT_THRESHOLD = Decimal(20)


class SupervisionLevel(StrEnum):
    NORMAL = "normal"
    STRICT = "strict"  # skærpet tilsyn


@dataclass(frozen=True)
class RiskScore:
    delivered: int
    late: int
    provider_failures: int
    ratings: int
    average_stars: Decimal | None
    complaints: int
    incident_points: Decimal
    rating_points: Decimal
    score: Decimal
    level: SupervisionLevel

    @property
    def volume(self) -> int:
        return self.delivered + self.provider_failures


def _one_decimal(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)


def risk_score(orders: OrderFigures, ratings: RatingFigures) -> RiskScore:
    """The formula of the module docstring, on one provider's figures."""
    volume = orders.delivered + orders.provider_failures
    average = Decimal(ratings.stars) / Decimal(ratings.ratings) if ratings.ratings else None
    if volume == 0:
        incident = Decimal(0)
    else:
        weighted = (
            W_COMPLAINT * ratings.complaints
            + W_LATE * orders.late
            + W_FAILED * orders.provider_failures
        )
        incident = Decimal(100) * weighted / Decimal(volume)
    rating = (
        W_LOW_RATING * max(Decimal(0), TARGET_STARS - average)
        if average is not None and volume
        else Decimal(0)
    )
    score = _one_decimal(incident + rating) if volume else Decimal("0.0")
    return RiskScore(
        delivered=orders.delivered,
        late=orders.late,
        provider_failures=orders.provider_failures,
        ratings=ratings.ratings,
        average_stars=_one_decimal(average) if average is not None else None,
        complaints=ratings.complaints,
        incident_points=_one_decimal(incident),
        rating_points=_one_decimal(rating),
        score=score,
        level=SupervisionLevel.STRICT if score >= STRICT_THRESHOLD else SupervisionLevel.NORMAL,
    )


async def risk_scores(
    session: AsyncSession, *, municipality_id: int, on: date
) -> dict[int, RiskScore]:
    """Every provider with orders in the municipality in the 90 days up to `on`."""
    first_day = on - timedelta(days=PERIOD_DAYS - 1)
    orders = await repository.order_figures(
        session, municipality_id=municipality_id, first_day=first_day, last_day=on
    )
    ratings = await repository.rating_figures(
        session, municipality_id=municipality_id, first_day=first_day, last_day=on
    )
    return {
        provider_id: risk_score(
            orders.get(provider_id, OrderFigures()), ratings.get(provider_id, RatingFigures())
        )
        for provider_id in sorted(set(orders) | set(ratings))
    }


@dataclass(frozen=True)
class SupervisionRow:
    provider: Provider
    risk: RiskScore


@dataclass(frozen=True)
class SupervisionOverview:
    first_day: date
    last_day: date
    rows: list[SupervisionRow]
    threshold: Decimal


async def overview(
    session: AsyncSession, *, actor: Actor, on: date | None = None
) -> SupervisionOverview:
    """The providers of the actor's municipality, highest risk first."""
    municipality_id = municipality_scope(
        actor, None, lambda: PermissionDenied(N_("Supervision is for municipal staff."))
    )
    on = on or today()
    scores = await risk_scores(session, municipality_id=municipality_id, on=on)
    empty = risk_score(OrderFigures(), RatingFigures())
    rows = [
        SupervisionRow(provider=row.provider, risk=scores.get(row.provider.id or 0, empty))
        for row in await providers.provider_directory(session, actor=actor)
    ]
    rows.sort(key=lambda r: (-r.risk.score, r.provider.name))
    return SupervisionOverview(
        first_day=on - timedelta(days=PERIOD_DAYS - 1),
        last_day=on,
        rows=rows,
        threshold=STRICT_THRESHOLD,
    )
