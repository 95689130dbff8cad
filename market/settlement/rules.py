"""The settlement rules of DESIGN.md ("Settlement rules (risk sharing)") as one
pure function: a month's counts and the contract terms in, statement lines out.
No database, no clock: the same inputs always give the same statement.

Amounts are integer øre, rates integer basis points. Every line's amount is
computed exactly (fractions) and rounded half-even to whole øre once; the
total is the sum of the rounded lines.

Each line explains itself as an English message id (marked with ``N_``) with
``{placeholders}`` and its parameters, rendered in the reader's language when
shown (market.settlement.explain). Parameter names say how a value is shown:
``*_ore`` is an amount in øre (int, or an exact decimal string for a unit
amount with fractions of an øre), ``*_bp`` a rate in basis points (int or
exact decimal string); anything else is a count or a text."""

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any

from market.errors import N_
from providers.approvals.terms import ContractTerms  # the one value object of the terms

BP = 10_000  # basis points in one whole
ONE_POINT_BP = 100  # one percentage point


class LineKind(StrEnum):
    DELIVERED = "delivered"
    DELIVERED_ABOVE_REBATE_THRESHOLD = "delivered_above_rebate_threshold"
    CITIZEN_ABSENT = "citizen_absent"
    LATE_CANCELLED = "late_cancelled"
    VOLUME_GUARANTEE = "volume_guarantee"
    SLA_MALUS = "sla_malus"
    SLA_BONUS = "sla_bonus"
    ADJUSTMENT = "adjustment"


@dataclass(frozen=True)
class MonthActivity:
    """How the provider's orders in the month ended (DESIGN.md's outcome table)."""

    delivered: int = 0
    delivered_on_time: int = 0
    provider_fault_failures: int = 0
    citizen_absent: int = 0
    late_cancelled: int = 0

    def __post_init__(self) -> None:
        if (
            min(
                self.delivered,
                self.delivered_on_time,
                self.provider_fault_failures,
                self.citizen_absent,
                self.late_cancelled,
            )
            < 0
        ):
            raise ValueError("counts cannot be negative")
        if self.delivered_on_time > self.delivered:
            raise ValueError("more deliveries on time than deliveries")

    @property
    def billable(self) -> int:
        return self.delivered + self.citizen_absent + self.late_cancelled

    @property
    def on_time_rate(self) -> Fraction | None:
        """Exact; None when there was nothing to deliver."""
        attempts = self.delivered + self.provider_fault_failures
        return Fraction(self.delivered_on_time, attempts) if attempts else None


@dataclass(frozen=True)
class AdjustmentInput:
    """A correction carried into the month, as the rules see it."""

    amount_ore: int
    message: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LineCalculation:
    """One line of a computed statement (the table row is models.StatementLine)."""

    kind: LineKind
    quantity: int
    amount_ore: int
    message: str  # an English message id with {placeholders}, translated when shown
    params: dict[str, Any] = field(default_factory=dict)
    unit_amount_ore: Fraction | None = None  # per unit, for unit lines
    rate_bp: int | None = None  # for share and percentage lines


@dataclass(frozen=True)
class StatementCalculation:
    """A computed statement (the table row is models.Statement)."""

    lines: list[LineCalculation] = field(default_factory=list)

    @property
    def total_ore(self) -> int:
        return sum(line.amount_ore for line in self.lines)


def round_half_even(amount: Fraction) -> int:
    """Python rounds a Fraction half to even, exactly."""
    return round(amount)


def exact(value: int | Fraction) -> int | str:
    """An int stays an int; a fraction (every unit amount here is price × bp /
    10,000, a finite decimal) becomes its exact decimal text, e.g. "8075.95"."""
    value = Fraction(value)
    if value.denominator == 1:
        return value.numerator
    text = Decimal(value.numerator) / Decimal(value.denominator)
    if Fraction(text) != value:
        raise ValueError(f"{value} has no exact decimal")
    return str(text)


def settle(
    terms: ContractTerms,
    activity: MonthActivity,
    adjustments: tuple[AdjustmentInput, ...] = (),
) -> StatementCalculation:
    """The month's statement, line by line (DESIGN.md's numbering)."""
    lines = _delivery_lines(terms, activity)
    delivery_amount = sum(line.amount_ore for line in lines)
    lines += _share_lines(terms, activity)
    lines += _guarantee_lines(terms, activity)
    lines += _sla_lines(terms, activity, delivery_amount)
    lines = [line for line in lines if line.quantity != 0]
    return StatementCalculation(lines=lines + _adjustment_lines(adjustments))


def _delivery_lines(terms: ContractTerms, activity: MonthActivity) -> list[LineCalculation]:
    """1 and 2: deliveries, with the volume rebate above the threshold."""
    price = terms.unit_price_ore
    threshold = terms.rebate_threshold_units
    if threshold is None or terms.rebate_bp == 0:
        full, rebated = activity.delivered, 0
    else:
        full, rebated = min(activity.delivered, threshold), max(0, activity.delivered - threshold)
    rebated_price = Fraction(price * (BP - terms.rebate_bp), BP)
    return [
        LineCalculation(
            LineKind.DELIVERED,
            full,
            round_half_even(Fraction(full * price)),
            N_("{count} delivered unit at the unit price of {unit_price_ore}")
            if full == 1
            else N_("{count} delivered units at the unit price of {unit_price_ore}"),
            {"count": full, "unit_price_ore": price},
            unit_amount_ore=Fraction(price),
        ),
        LineCalculation(
            LineKind.DELIVERED_ABOVE_REBATE_THRESHOLD,
            rebated,
            round_half_even(rebated * rebated_price),
            N_(
                "{count} delivered unit above the threshold of {threshold} units, at "
                "{unit_amount_ore} (unit price less the {rebate_bp} volume rebate)"
            )
            if rebated == 1
            else N_(
                "{count} delivered units above the threshold of {threshold} units, at "
                "{unit_amount_ore} (unit price less the {rebate_bp} volume rebate)"
            ),
            {
                "count": rebated,
                "threshold": threshold,
                "unit_amount_ore": exact(rebated_price),
                "rebate_bp": terms.rebate_bp,
            },
            unit_amount_ore=rebated_price,
            rate_bp=terms.rebate_bp,
        ),
    ]


def _share_lines(terms: ContractTerms, activity: MonthActivity) -> list[LineCalculation]:
    """3 and 4: the shares paid for work done that did not end in a delivery."""
    lines = []
    for kind, count, share_bp, one, many in (
        (
            LineKind.CITIZEN_ABSENT,
            activity.citizen_absent,
            terms.citizen_absent_share_bp,
            N_(
                "{count} failed delivery because the citizen was absent, paid at "
                "{share_bp} of the unit price = {unit_amount_ore}"
            ),
            N_(
                "{count} failed deliveries because the citizen was absent, each paid at "
                "{share_bp} of the unit price = {unit_amount_ore}"
            ),
        ),
        (
            LineKind.LATE_CANCELLED,
            activity.late_cancelled,
            terms.late_cancel_share_bp,
            N_(
                "{count} cancellation by the citizen after the cut-off, paid at "
                "{share_bp} of the unit price = {unit_amount_ore}"
            ),
            N_(
                "{count} cancellations by the citizen after the cut-off, each paid at "
                "{share_bp} of the unit price = {unit_amount_ore}"
            ),
        ),
    ):
        unit_amount = Fraction(terms.unit_price_ore * share_bp, BP)
        lines.append(
            LineCalculation(
                kind,
                count,
                round_half_even(count * unit_amount),
                one if count == 1 else many,
                {"count": count, "share_bp": share_bp, "unit_amount_ore": exact(unit_amount)},
                unit_amount_ore=unit_amount,
                rate_bp=share_bp,
            )
        )
    return lines


def _guarantee_lines(terms: ContractTerms, activity: MonthActivity) -> list[LineCalculation]:
    """5: the volume guarantee (take-or-pay)."""
    if not terms.shortfall_rate_bp:
        return []
    shortfall = max(0, terms.min_units_per_month - activity.billable)
    unit_amount = Fraction(terms.unit_price_ore * terms.shortfall_rate_bp, BP)
    return [
        LineCalculation(
            LineKind.VOLUME_GUARANTEE,
            shortfall,
            round_half_even(shortfall * unit_amount),
            N_(
                "Volume guarantee: {billable} billable units against a minimum of "
                "{minimum}; {shortfall} units short, paid at {shortfall_rate_bp} of the "
                "unit price = {unit_amount_ore}"
            ),
            {
                "billable": activity.billable,
                "minimum": terms.min_units_per_month,
                "shortfall": shortfall,
                "shortfall_rate_bp": terms.shortfall_rate_bp,
                "unit_amount_ore": exact(unit_amount),
            },
            unit_amount_ore=unit_amount,
            rate_bp=terms.shortfall_rate_bp,
        )
    ]


def _sla_lines(
    terms: ContractTerms, activity: MonthActivity, delivery_amount: int
) -> list[LineCalculation]:
    """6: SLA malus or bonus on the delivery amount."""
    rate = activity.on_time_rate
    if rate is None or not delivery_amount:
        return []
    rate_bp = rate * BP
    # The rate is shown rounded to two decimals, but kept exact as on-time / attempts.
    shown = {
        "on_time": activity.delivered_on_time,
        "attempts": activity.delivered + activity.provider_fault_failures,
        "on_time_rate_bp": str(round(Decimal(rate_bp.numerator) / rate_bp.denominator, 4)),
        "delivery_amount_ore": delivery_amount,
    }
    points = 0
    if rate_bp < terms.on_time_target_bp:
        points = int((terms.on_time_target_bp - rate_bp) // ONE_POINT_BP)
    if min(points * terms.malus_bp_per_point, terms.malus_cap_bp):
        return [_malus_line(terms, points, shown, delivery_amount)]
    if (
        terms.bonus_threshold_bp is not None
        and terms.bonus_bp
        and rate_bp >= terms.bonus_threshold_bp
    ):
        return [_bonus_line(terms, shown, delivery_amount)]
    return []


def _malus_line(
    terms: ContractTerms, points: int, shown: dict[str, Any], delivery_amount: int
) -> LineCalculation:
    malus_bp = min(points * terms.malus_bp_per_point, terms.malus_cap_bp)
    capped = points * terms.malus_bp_per_point > terms.malus_cap_bp
    return LineCalculation(
        LineKind.SLA_MALUS,
        points,
        -round_half_even(Fraction(malus_bp * delivery_amount, BP)),
        N_(
            "On-time rate {on_time} of {attempts} = {on_time_rate_bp}, {points} "
            "whole points below the target of {target_bp}: malus {malus_bp} "
            "(capped) of the delivery amount {delivery_amount_ore}"
        )
        if capped
        else N_(
            "On-time rate {on_time} of {attempts} = {on_time_rate_bp}, {points} "
            "whole point below the target of {target_bp}: malus {malus_bp} "
            "of the delivery amount {delivery_amount_ore}"
        )
        if points == 1
        else N_(
            "On-time rate {on_time} of {attempts} = {on_time_rate_bp}, {points} "
            "whole points below the target of {target_bp}: malus {malus_bp} "
            "of the delivery amount {delivery_amount_ore}"
        ),
        {
            **shown,
            "points": points,
            "target_bp": terms.on_time_target_bp,
            "malus_bp": malus_bp,
            "capped": capped,
        },
        rate_bp=malus_bp,
    )


def _bonus_line(
    terms: ContractTerms, shown: dict[str, Any], delivery_amount: int
) -> LineCalculation:
    return LineCalculation(
        LineKind.SLA_BONUS,
        1,
        round_half_even(Fraction(terms.bonus_bp * delivery_amount, BP)),
        N_(
            "On-time rate {on_time} of {attempts} = {on_time_rate_bp}, at or above "
            "the bonus threshold of {bonus_threshold_bp}: bonus {bonus_bp} of the "
            "delivery amount {delivery_amount_ore}"
        ),
        {
            **shown,
            "bonus_threshold_bp": terms.bonus_threshold_bp,
            "bonus_bp": terms.bonus_bp,
        },
        rate_bp=terms.bonus_bp,
    )


def _adjustment_lines(adjustments: tuple[AdjustmentInput, ...]) -> list[LineCalculation]:
    """7: corrections carried from earlier, approved months (always shown)."""
    return [
        LineCalculation(LineKind.ADJUSTMENT, 1, a.amount_ore, a.message, dict(a.params))
        for a in adjustments
    ]
