import pytest

from market.errors import InvalidInput
from market.money import format_kroner, parse_kroner


@pytest.mark.parametrize(
    ("text", "ore"),
    [
        ("85,00", 8500),
        ("85.00", 8500),
        ("85", 8500),
        ("61,5", 6150),
        ("1.250,50", 125050),
        ("1,250.50", 125050),
        ("1.250,50 kr.", 125050),
        (" 0,01 ", 1),
        ("0", 0),
    ],
)
def test_danish_and_english_notation_give_exact_ore(text, ore):
    assert parse_kroner(text) == ore


@pytest.mark.parametrize("text", ["abc", "", "85,5,5", "1,2.3,4", "NaN", "Infinity"])
def test_nonsense_is_refused_with_a_sentence(text):
    with pytest.raises(InvalidInput, match="not an amount in kroner"):
        parse_kroner(text)


def test_fractions_of_an_ore_and_negative_amounts_are_refused():
    with pytest.raises(InvalidInput, match="two decimals"):
        parse_kroner("85,005")
    with pytest.raises(InvalidInput, match="negative"):
        parse_kroner("-5,00")


def test_format_round_trips():
    for ore in (0, 1, 99, 8500, 125050, 100_000_000):
        assert parse_kroner(format_kroner(ore)) == ore
