"""The one ContractTerms value object: its invariants match the table's CHECK
constraints, its coherence rules speak to the admin, and settlement computes
with the very same class."""

from datetime import date

import pytest
from sqlalchemy import CheckConstraint

from market.errors import InvalidInput
from market.settlement import rules
from providers.approvals.terms import BP_FIELDS, BP_WHOLE, ContractTerms, Vat
from providers.exceptions import InvalidTerms
from providers.models import ContractTermsVersion


def test_settlement_computes_with_the_same_value_object():
    assert rules.ContractTerms is ContractTerms


def test_a_broken_invariant_is_a_value_error_and_a_sentence_for_the_admin():
    with pytest.raises(InvalidTerms) as caught:
        ContractTerms(unit_price_ore=8500, rebate_bp=BP_WHOLE + 1)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, InvalidInput)
    assert caught.value.status_code == 422
    assert "volume rebate" in caught.value.message


@pytest.mark.parametrize(
    "fields",
    [
        {"unit_price_ore": 0},
        {"unit_price_ore": 1, "min_units_per_month": -1},
        {"unit_price_ore": 1, "rebate_threshold_units": -1},
        {"unit_price_ore": 1, "bonus_threshold_bp": BP_WHOLE + 1},
        *({"unit_price_ore": 1, name: -1} for name in BP_FIELDS),
    ],
)
def test_every_invariant_is_checked(fields):
    with pytest.raises(InvalidTerms):
        ContractTerms(**fields)


def test_the_table_checks_the_same_rates():
    names = {
        c.name for c in ContractTermsVersion.__table__.constraints if isinstance(c, CheckConstraint)
    }
    assert {f"ck_contract_terms_{name}" for name in BP_FIELDS} <= names
    assert ContractTermsVersion.__tablename__ == "contract_terms"


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"rebate_bp": 500}, "needs a threshold"),
        ({"shortfall_rate_bp": 5000}, "minimum number of units"),
        ({"malus_bp_per_point": 100, "malus_cap_bp": 500}, "on-time target"),
        ({"malus_bp_per_point": 100, "on_time_target_bp": 9500}, "cap above 0"),
        ({"bonus_bp": 200}, "the on-time rate from which"),
        ({"on_time_target_bp": 9500, "bonus_threshold_bp": 9000}, "below the on-time target"),
    ],
)
def test_incoherent_terms_are_refused_only_when_asked(fields, words):
    terms = ContractTerms(unit_price_ore=8500, **fields)  # a valid value ...
    with pytest.raises(InvalidTerms) as caught:
        terms.check_coherent()  # ... that an admin may not enter as a new version
    assert words in caught.value.message


def test_a_stored_version_gives_back_its_terms():
    row = ContractTermsVersion(
        approval_id=1,
        version=2,
        unit_price_ore=8500,
        valid_from=date(2026, 1, 1),
        rebate_threshold_units=1200,
        rebate_bp=500,
        created_by_user_id=1,
    )
    terms = row.terms()
    terms.check_coherent()
    assert terms == ContractTerms(unit_price_ore=8500, rebate_threshold_units=1200, rebate_bp=500)
    assert {k: getattr(row, k) for k in terms.as_dict()} == terms.as_dict()


def test_vat_keeps_only_what_its_category_uses():
    assert Vat.checked(" s ", 2500, "ground").as_dict() == {
        "vat_category": "S",
        "vat_rate_bp": 2500,
        "vat_exemption_reason": "",
    }
    assert Vat.checked("E", 2500, "  Momslovens  § 13 ").vat_rate_bp == 0
    with pytest.raises(InvalidInput):
        Vat.checked("X", 0, "")
    with pytest.raises(InvalidInput):
        Vat.checked("S", 0, "")
