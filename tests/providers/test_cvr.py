import pytest

from market.errors import InvalidInput
from providers.service import check_cvr, parse_decimal, parse_unit_price, split_postal_codes


def cvr_with_check_digit(first_seven: str) -> str | None:
    weights = (2, 7, 6, 5, 4, 3, 2)
    rest = sum(int(d) * w for d, w in zip(first_seven, weights, strict=True)) % 11
    check = (11 - rest) % 11
    return None if check == 10 else first_seven + str(check)


@pytest.mark.parametrize("cvr", ["10000009", "12345674", "35408002", "3540 8002"])
def test_valid_cvr_numbers_pass(cvr):
    assert check_cvr(cvr) == cvr.replace(" ", "")


@pytest.mark.parametrize(
    "cvr", ["12345678", "1234567", "123456789", "01234567", "abcdefgh", "", "1000000O"]
)
def test_invalid_cvr_numbers_are_refused_with_a_sentence(cvr):
    with pytest.raises(InvalidInput) as caught:
        check_cvr(cvr)
    assert "is not a valid CVR number" in str(caught.value)
    assert caught.value.status_code == 422


def test_check_digit_helper_agrees_with_the_rule():
    for seven in ("1000000", "2596183", "3540800", "4111111"):
        cvr = cvr_with_check_digit(seven)
        if cvr is not None:
            assert check_cvr(cvr) == cvr


@pytest.mark.parametrize(
    ("text", "ore"),
    [
        ("85,00", 8500),
        ("85.00", 8500),
        ("85", 8500),
        ("1.250,50", 125050),
        ("0,01", 1),
        ("85,5 kr.", 8550),
    ],
)
def test_unit_prices_become_exact_ore(text, ore):
    assert parse_unit_price(text) == ore


@pytest.mark.parametrize("text", ["85,001", "0", "-5", "abc", "", "85,00,00"])
def test_bad_unit_prices_are_refused(text):
    with pytest.raises(InvalidInput):
        parse_unit_price(text)


def test_decimal_and_postal_code_parsing():
    assert str(parse_decimal("5.000.000")) == "5000000"
    assert str(parse_decimal("4,5")) == "4.5"
    assert split_postal_codes(" 8000,8200  8210;") == ["8000", "8200", "8210"]


def test_every_refusal_sentence_belongs_to_a_move_the_tables_refuse():
    from providers import service

    tables = (
        service.STANDARD_TRANSITIONS,
        service.APPLICATION_TRANSITIONS,
        service.APPROVAL_TRANSITIONS,
    )
    refused = {
        (type(current), current, target)
        for table in tables
        for current in table
        for target in table
        if target not in table[current]
    }
    assert set(service._REFUSALS) <= refused
    for table in tables:
        for current in table:
            for target in table:
                if target in table[current]:
                    service.check_transition(table, current, target)
                else:
                    with pytest.raises(InvalidInput.__mro__[1]) as caught:  # AppError
                        service.check_transition(table, current, target)
                    assert caught.value.status_code == 409
