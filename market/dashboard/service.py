"""The municipal dashboard: what the municipality spent, how its providers
delivered, what citizens paid, and the welfare alerts still open. Read-only,
for the admins and auditors of one municipality."""

from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction

from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.permissions import Actor, Permission, municipality_scope
from market.clock import add_months, first_of_month, today
from market.dashboard import repository
from market.dashboard.repository import ProviderMonth
from market.errors import N_, PermissionDenied

MONTHS_SHOWN = 12


@dataclass(frozen=True)
class MonthFigure:
    month_on: date
    amount_ore: int


@dataclass(frozen=True)
class CopaymentMonth:
    month_on: date
    statements_ore: int
    card_ore: int

    @property
    def total_ore(self) -> int:
        return self.statements_ore + self.card_ore


@dataclass(frozen=True)
class ProviderFigures:
    provider_id: int
    provider_name: str
    units_delivered: int
    delivered: int
    on_time: int
    provider_faults: int

    @property
    def on_time_rate(self) -> Fraction | None:
        """On time / (deliveries + provider-fault failures), exactly; None
        when there was nothing to deliver."""
        counted = self.delivered + self.provider_faults
        return Fraction(self.on_time, counted) if counted else None

    @property
    def on_time_bp(self) -> int | None:
        """The rate in basis points, rounded half-even, for the chart and table."""
        rate = self.on_time_rate
        return None if rate is None else round(rate * 10_000)


@dataclass(frozen=True)
class Dashboard:
    today: date
    months: list[date]
    spend: list[MonthFigure]
    month_on: date
    providers: list[ProviderFigures]
    copayments: list[CopaymentMonth]
    open_alerts: int
    oldest_alert_at: datetime | None

    @property
    def spend_total_ore(self) -> int:
        return sum(m.amount_ore for m in self.spend)


def _figures(row: ProviderMonth) -> ProviderFigures:
    return ProviderFigures(
        row.provider_id,
        row.provider_name,
        row.units_delivered,
        row.delivered,
        row.on_time,
        row.provider_faults,
    )


def _not_for_you() -> PermissionDenied:
    return PermissionDenied(N_("The dashboard is for the municipality's admins and auditors."))


async def dashboard(
    session: AsyncSession, *, actor: Actor, month_on: date | None = None
) -> Dashboard:
    """The twelve ended months before this one, and one chosen month (the last
    ended month by default) for the providers' deliveries."""
    municipality_id = municipality_scope(actor, Permission.DASHBOARD_VIEW, _not_for_you)
    now = today()
    end = first_of_month(now)
    first = add_months(end, -MONTHS_SHOWN)
    months = [add_months(first, i) for i in range(MONTHS_SHOWN)]
    chosen = first_of_month(month_on) if month_on else add_months(end, -1)
    spend = await repository.approved_spend_by_month(session, municipality_id, first, end)
    statements = await repository.statement_copayments_by_month(
        session, municipality_id, first, end
    )
    cards = await repository.card_copayments_by_month(session, municipality_id, first, end)
    providers = await repository.deliveries_by_provider(
        session, municipality_id, chosen, add_months(chosen, 1)
    )
    alerts = await repository.open_alerts(session, municipality_id)

    def key(m: date) -> str:
        return m.strftime("%Y-%m")

    return Dashboard(
        today=now,
        months=months,
        spend=[MonthFigure(m, spend.get(key(m), 0)) for m in months],
        month_on=chosen,
        providers=[_figures(r) for r in providers],
        copayments=[
            CopaymentMonth(m, statements.get(key(m), 0), cards.get(key(m), 0)) for m in months
        ],
        open_alerts=alerts.count,
        oldest_alert_at=alerts.oldest_at,
    )


def previous_month(month_on: date) -> date:
    return add_months(month_on, -1)


def following_month(month_on: date) -> date:
    return add_months(month_on, 1)
