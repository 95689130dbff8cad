"""The settlement rules of DESIGN.md ("Settlement rules (risk sharing)") as one
pure function: a month's counts and the contract terms in, statement lines out.
No database, no clock: the same inputs always give the same statement.

Amounts are integer øre, rates integer basis points. Every line's amount is
computed exactly (fractions) and rounded half-even to whole øre once; the
total is the sum of the rounded lines."""

from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction

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
class ContractTerms:
    unit_price_ore: int
    min_units_per_month: int = 0
    shortfall_rate_bp: int = 0
    rebate_threshold_units: int | None = None
    rebate_bp: int = 0
    on_time_target_bp: int = 0
    malus_bp_per_point: int = 0
    malus_cap_bp: int = 0
    bonus_threshold_bp: int | None = None
    bonus_bp: int = 0
    citizen_absent_share_bp: int = 0
    late_cancel_share_bp: int = 0

    def __post_init__(self) -> None:
        if self.unit_price_ore <= 0:
            raise ValueError("the unit price must be positive")
        for name in (
            "shortfall_rate_bp",
            "rebate_bp",
            "on_time_target_bp",
            "malus_bp_per_point",
            "malus_cap_bp",
            "bonus_bp",
            "citizen_absent_share_bp",
            "late_cancel_share_bp",
        ):
            if not 0 <= getattr(self, name) <= BP:
                raise ValueError(f"{name} must be between 0 and {BP} basis points")
        if self.min_units_per_month < 0 or (self.rebate_threshold_units or 0) < 0:
            raise ValueError("unit counts in the terms cannot be negative")


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
class Adjustment:
    amount_ore: int
    explanation: str


@dataclass(frozen=True)
class StatementLine:
    kind: LineKind
    quantity: int
    amount_ore: int
    explanation: str
    unit_amount_ore: Fraction | None = None  # per unit, for unit lines
    rate_bp: int | None = None  # for share and percentage lines


@dataclass(frozen=True)
class Statement:
    lines: list[StatementLine] = field(default_factory=list)

    @property
    def total_ore(self) -> int:
        return sum(line.amount_ore for line in self.lines)


def round_half_even(amount: Fraction) -> int:
    """Python rounds a Fraction half to even, exactly."""
    return round(amount)


def kroner(ore: int | Fraction) -> str:
    """Danish notation for explanations: 1.234,50 kr."""
    value = Fraction(ore) / 100
    sign = "-" if value < 0 else ""
    value = abs(value)
    whole = int(value)
    cents = round_half_even((value - whole) * 100)
    if cents == 100:
        whole, cents = whole + 1, 0
    return f"{sign}{whole:,}".replace(",", ".") + f",{cents:02d} kr."


def percent(bp: int | Fraction) -> str:
    value = Fraction(bp) / 100
    text = f"{float(value):.2f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") + " %"


def settle(
    terms: ContractTerms, activity: MonthActivity, adjustments: tuple[Adjustment, ...] = ()
) -> Statement:
    lines: list[StatementLine] = []
    price = terms.unit_price_ore

    def add(line: StatementLine) -> None:
        if line.quantity != 0:
            lines.append(line)

    # 1 and 2: deliveries, with the volume rebate above the threshold.
    threshold = terms.rebate_threshold_units
    if threshold is None or terms.rebate_bp == 0:
        full, rebated = activity.delivered, 0
    else:
        full, rebated = min(activity.delivered, threshold), max(0, activity.delivered - threshold)
    add(
        StatementLine(
            LineKind.DELIVERED,
            full,
            round_half_even(Fraction(full * price)),
            f"{full} delivered units at the unit price of {kroner(price)}",
            unit_amount_ore=Fraction(price),
        )
    )
    rebated_price = Fraction(price * (BP - terms.rebate_bp), BP)
    add(
        StatementLine(
            LineKind.DELIVERED_ABOVE_REBATE_THRESHOLD,
            rebated,
            round_half_even(rebated * rebated_price),
            f"{rebated} delivered units above the threshold of {threshold} units, at "
            f"{kroner(rebated_price)} "
            f"(unit price less the {percent(terms.rebate_bp)} volume rebate)",
            unit_amount_ore=rebated_price,
            rate_bp=terms.rebate_bp,
        )
    )
    delivery_amount = sum(line.amount_ore for line in lines)

    # 3 and 4: the shares paid for work done that did not end in a delivery.
    for kind, count, share_bp, what in (
        (
            LineKind.CITIZEN_ABSENT,
            activity.citizen_absent,
            terms.citizen_absent_share_bp,
            "failed deliveries because the citizen was absent",
        ),
        (
            LineKind.LATE_CANCELLED,
            activity.late_cancelled,
            terms.late_cancel_share_bp,
            "cancellations by the citizen after the cut-off",
        ),
    ):
        unit_amount = Fraction(price * share_bp, BP)
        add(
            StatementLine(
                kind,
                count,
                round_half_even(count * unit_amount),
                f"{count} {what}, each paid at {percent(share_bp)} of the unit price "
                f"= {kroner(unit_amount)}",
                unit_amount_ore=unit_amount,
                rate_bp=share_bp,
            )
        )

    # 5: the volume guarantee (take-or-pay).
    shortfall = max(0, terms.min_units_per_month - activity.billable)
    unit_amount = Fraction(price * terms.shortfall_rate_bp, BP)
    if terms.shortfall_rate_bp:
        add(
            StatementLine(
                LineKind.VOLUME_GUARANTEE,
                shortfall,
                round_half_even(shortfall * unit_amount),
                f"Volume guarantee: {activity.billable} billable units against a minimum of "
                f"{terms.min_units_per_month}; {shortfall} units short, paid at "
                f"{percent(terms.shortfall_rate_bp)} of the unit price = {kroner(unit_amount)}",
                unit_amount_ore=unit_amount,
                rate_bp=terms.shortfall_rate_bp,
            )
        )

    # 6: SLA malus or bonus on the delivery amount.
    rate = activity.on_time_rate
    if rate is not None and delivery_amount:
        rate_bp = rate * BP
        shown = (
            f"On-time rate {activity.delivered_on_time} of "
            f"{activity.delivered + activity.provider_fault_failures} = {percent(rate_bp)}"
        )
        points = 0
        if rate_bp < terms.on_time_target_bp:
            points = int((terms.on_time_target_bp - rate_bp) // ONE_POINT_BP)
        malus_bp = min(points * terms.malus_bp_per_point, terms.malus_cap_bp)
        if malus_bp:
            capped = " (capped)" if points * terms.malus_bp_per_point > terms.malus_cap_bp else ""
            add(
                StatementLine(
                    LineKind.SLA_MALUS,
                    points,
                    -round_half_even(Fraction(malus_bp * delivery_amount, BP)),
                    f"{shown}, {points} whole points below the target of "
                    f"{percent(terms.on_time_target_bp)}: malus {percent(malus_bp)}{capped} of the "
                    f"delivery amount {kroner(delivery_amount)}",
                    rate_bp=malus_bp,
                )
            )
        elif (
            terms.bonus_threshold_bp is not None
            and terms.bonus_bp
            and rate_bp >= terms.bonus_threshold_bp
        ):
            add(
                StatementLine(
                    LineKind.SLA_BONUS,
                    1,
                    round_half_even(Fraction(terms.bonus_bp * delivery_amount, BP)),
                    f"{shown}, at or above the bonus threshold of "
                    f"{percent(terms.bonus_threshold_bp)}: bonus {percent(terms.bonus_bp)} of the "
                    f"delivery amount {kroner(delivery_amount)}",
                    rate_bp=terms.bonus_bp,
                )
            )

    # 7: corrections carried from earlier, approved months.
    for adjustment in adjustments:
        lines.append(
            StatementLine(LineKind.ADJUSTMENT, 1, adjustment.amount_ore, adjustment.explanation)
        )
    return Statement(lines=lines)
