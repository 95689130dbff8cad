"""DESIGN.md's settlement rules, line by line, on hand-computed cases."""

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.settlement.explain import kroner as kroner_shown
from market.settlement.explain import render
from market.settlement.rules import (
    AdjustmentInput,
    ContractTerms,
    LineKind,
    MonthActivity,
    settle,
)

DESIGN_TERMS = ContractTerms(
    unit_price_ore=8500,
    rebate_threshold_units=1200,
    rebate_bp=500,
    min_units_per_month=1000,
    shortfall_rate_bp=5000,
    on_time_target_bp=9500,
    malus_bp_per_point=100,
    malus_cap_bp=500,
    bonus_threshold_bp=9800,
    bonus_bp=200,
    citizen_absent_share_bp=7500,
    late_cancel_share_bp=5000,
)


def amounts(statement):
    return {line.kind: (line.quantity, line.amount_ore) for line in statement.lines}


def test_the_worked_example_of_design_md_to_the_ore():
    statement = settle(
        DESIGN_TERMS,
        MonthActivity(
            delivered=1250,
            delivered_on_time=1150,
            provider_fault_failures=30,
            citizen_absent=12,
            late_cancelled=7,
        ),
    )
    assert [line.kind for line in statement.lines] == [
        LineKind.DELIVERED,
        LineKind.DELIVERED_ABOVE_REBATE_THRESHOLD,
        LineKind.CITIZEN_ABSENT,
        LineKind.LATE_CANCELLED,
        LineKind.SLA_MALUS,
    ]
    assert amounts(statement) == {
        LineKind.DELIVERED: (1200, 10_200_000),
        LineKind.DELIVERED_ABOVE_REBATE_THRESHOLD: (50, 403_750),
        LineKind.CITIZEN_ABSENT: (12, 76_500),
        LineKind.LATE_CANCELLED: (7, 29_750),
        LineKind.SLA_MALUS: (5, -530_188),  # 530,187.5 øre rounds half-even up to the even 8
    }
    assert statement.total_ore == 10_179_812
    assert kroner_shown(statement.total_ore, "da") == "101.798,12 kr."


def test_volume_guarantee_pays_the_shortfall_at_its_rate():
    statement = settle(
        DESIGN_TERMS,
        MonthActivity(delivered=900, delivered_on_time=900, citizen_absent=40, late_cancelled=10),
    )
    quantity, amount = amounts(statement)[LineKind.VOLUME_GUARANTEE]
    assert quantity == 1000 - 950 and amount == 50 * 4250


def test_no_guarantee_line_when_the_minimum_is_met_exactly():
    statement = settle(DESIGN_TERMS, MonthActivity(delivered=1000, delivered_on_time=1000))
    assert LineKind.VOLUME_GUARANTEE not in amounts(statement)


def test_rebate_starts_after_the_threshold_unit():
    at = settle(DESIGN_TERMS, MonthActivity(delivered=1200, delivered_on_time=1200))
    assert LineKind.DELIVERED_ABOVE_REBATE_THRESHOLD not in amounts(at)
    above = settle(DESIGN_TERMS, MonthActivity(delivered=1201, delivered_on_time=1201))
    assert amounts(above)[LineKind.DELIVERED_ABOVE_REBATE_THRESHOLD] == (1, 8075)


def test_malus_is_capped():
    # 50 % on time: 45 whole points below 95 %, 45 % malus, capped at 5 %.
    statement = settle(DESIGN_TERMS, MonthActivity(delivered=1000, delivered_on_time=500))
    quantity, amount = amounts(statement)[LineKind.SLA_MALUS]
    assert quantity == 45 and amount == -(8_500_000 * 500 // 10_000)
    assert "(capped)" in statement.lines[-1].message
    assert statement.lines[-1].params["capped"] is True


def test_partial_points_below_target_do_not_count():
    # 94.5 % against 95 %: half a point below, so no whole point and no malus.
    statement = settle(DESIGN_TERMS, MonthActivity(delivered=1000, delivered_on_time=945))
    assert LineKind.SLA_MALUS not in amounts(statement)
    assert LineKind.SLA_BONUS not in amounts(statement)


def test_bonus_at_the_threshold_exactly():
    statement = settle(DESIGN_TERMS, MonthActivity(delivered=1000, delivered_on_time=980))
    assert amounts(statement)[LineKind.SLA_BONUS] == (1, 8_500_000 * 200 // 10_000)
    below = settle(DESIGN_TERMS, MonthActivity(delivered=1000, delivered_on_time=979))
    assert LineKind.SLA_BONUS not in amounts(below)


def test_provider_fault_failures_lower_the_on_time_rate_but_pay_nothing():
    statement = settle(
        DESIGN_TERMS,
        MonthActivity(delivered=1000, delivered_on_time=1000, provider_fault_failures=60),
    )
    # 1000 / 1060 = 94.34 %: 0.66 points below 95 % → no whole point.
    assert LineKind.SLA_MALUS not in amounts(statement)
    assert sum(q for q, _ in amounts(statement).values() if q) == 1000
    worse = settle(
        DESIGN_TERMS,
        MonthActivity(delivered=1000, delivered_on_time=1000, provider_fault_failures=70),
    )
    assert amounts(worse)[LineKind.SLA_MALUS][0] == 1  # 93.46 %: one whole point


def test_no_sla_line_when_nothing_was_to_be_delivered():
    statement = settle(DESIGN_TERMS, MonthActivity(citizen_absent=3))
    assert LineKind.SLA_MALUS not in amounts(statement)
    assert LineKind.SLA_BONUS not in amounts(statement)


def test_share_lines_round_half_even():
    terms = ContractTerms(unit_price_ore=8501, citizen_absent_share_bp=5000)
    statement = settle(terms, MonthActivity(citizen_absent=1))
    assert amounts(statement)[LineKind.CITIZEN_ABSENT] == (1, 4250)  # 4250.5 → 4250 (even)
    statement = settle(terms, MonthActivity(citizen_absent=3))
    assert amounts(statement)[LineKind.CITIZEN_ABSENT] == (3, 12752)  # 12751.5 → 12752


def test_adjustments_come_last_and_count_in_the_total():
    statement = settle(
        DESIGN_TERMS,
        MonthActivity(delivered=1000, delivered_on_time=960),
        (AdjustmentInput(-12_345, "Correction: {reason}", {"reason": "3 meals counted twice"}),),
    )
    assert statement.lines[-1].kind == LineKind.ADJUSTMENT
    assert statement.total_ore == 8_500_000 - 12_345
    assert statement.lines[-1].params == {"reason": "3 meals counted twice"}


def test_explanations_are_message_ids_with_parameters_rendered_per_language():
    statement = settle(
        DESIGN_TERMS,
        MonthActivity(
            delivered=1250,
            delivered_on_time=1150,
            provider_fault_failures=30,
            citizen_absent=12,
            late_cancelled=7,
        ),
    )
    rebated = statement.lines[1]
    assert "{" in rebated.message and "kr" not in rebated.message
    assert rebated.params == {
        "count": 50,
        "threshold": 1200,
        "unit_amount_ore": 8075,
        "rebate_bp": 500,
    }
    malus = statement.lines[-1]
    assert malus.params["on_time"] == 1150 and malus.params["attempts"] == 1280
    assert malus.params["delivery_amount_ore"] == 10_603_750
    english = render(malus.message, malus.params, "en")
    assert "89.84%" in english and "106,037.50 kr." in english and "5 whole points" in english
    danish = render(malus.message, malus.params, "da")
    assert "89,84 %" in danish and "106.037,50 kr." in danish
    assert danish != english
    assert render(statement.lines[0].message, statement.lines[0].params, "da") == (
        "1.200 leverede enheder til enhedsprisen 85,00 kr."
    )


def test_a_single_unit_reads_in_the_singular():
    terms = ContractTerms(unit_price_ore=8500, late_cancel_share_bp=5000)
    [one] = settle(terms, MonthActivity(late_cancelled=1)).lines
    [two] = settle(terms, MonthActivity(late_cancelled=2)).lines
    assert render(one.message, one.params, "da").startswith("1 afbestilling fra borgeren")
    assert render(two.message, two.params, "da").startswith("2 afbestillinger fra borgeren")
    assert render(one.message, one.params, "en").startswith("1 cancellation by")


def test_fractional_unit_amounts_are_kept_exact_in_the_parameters():
    terms = ContractTerms(unit_price_ore=8501, citizen_absent_share_bp=7333)
    [line] = settle(terms, MonthActivity(citizen_absent=1)).lines
    assert line.params["unit_amount_ore"] == "6233.7833"
    assert Fraction(line.params["unit_amount_ore"]) == line.unit_amount_ore
    assert kroner_shown(line.params["unit_amount_ore"], "da") == "62,34 kr."


def test_terms_and_counts_are_checked():
    with pytest.raises(ValueError):
        ContractTerms(unit_price_ore=0)
    with pytest.raises(ValueError):
        ContractTerms(unit_price_ore=100, rebate_bp=10_001)
    with pytest.raises(ValueError):
        MonthActivity(delivered=1, delivered_on_time=2)


counts = st.integers(min_value=0, max_value=5000)
bps = st.integers(min_value=0, max_value=10_000)


@settings(max_examples=300, deadline=None)
@given(
    price=st.integers(min_value=1, max_value=50_000),
    delivered=counts,
    late=counts,
    absent=counts,
    fault=counts,
    on_time_share=st.fractions(min_value=0, max_value=1),
    rebate_bp=bps,
    absent_bp=bps,
    late_bp=bps,
    malus_bp=bps,
    cap_bp=bps,
    target_bp=bps,
    threshold=st.none() | counts,
)
def test_total_is_the_sum_of_the_lines_and_settling_again_gives_the_same(
    price,
    delivered,
    late,
    absent,
    fault,
    on_time_share,
    rebate_bp,
    absent_bp,
    late_bp,
    malus_bp,
    cap_bp,
    target_bp,
    threshold,
):
    terms = ContractTerms(
        unit_price_ore=price,
        rebate_threshold_units=threshold,
        rebate_bp=rebate_bp,
        citizen_absent_share_bp=absent_bp,
        late_cancel_share_bp=late_bp,
        malus_bp_per_point=malus_bp,
        malus_cap_bp=cap_bp,
        on_time_target_bp=target_bp,
        min_units_per_month=2000,
        shortfall_rate_bp=5000,
        bonus_threshold_bp=9900,
        bonus_bp=100,
    )
    activity = MonthActivity(
        delivered=delivered,
        delivered_on_time=int(delivered * on_time_share),
        provider_fault_failures=fault,
        citizen_absent=absent,
        late_cancelled=late,
    )
    first, second = settle(terms, activity), settle(terms, activity)
    assert first == second
    assert first.total_ore == sum(line.amount_ore for line in first.lines)
    assert all(isinstance(line.amount_ore, int) and line.quantity != 0 for line in first.lines)
    delivery = sum(
        line.amount_ore
        for line in first.lines
        if line.kind in (LineKind.DELIVERED, LineKind.DELIVERED_ABOVE_REBATE_THRESHOLD)
    )
    assert delivery <= delivered * price
    malus = sum(-line.amount_ore for line in first.lines if line.kind == LineKind.SLA_MALUS)
    assert 0 <= malus <= Fraction(cap_bp * delivery, 10_000) + Fraction(1, 2)
