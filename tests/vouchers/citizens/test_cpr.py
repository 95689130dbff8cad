"""CPR numbers: format, a real date of birth with the century from the 7th
digit, no modulus 11, masked display."""

from datetime import date

import pytest

from market.money import parse_kroner
from vouchers import service
from vouchers.exceptions import InvalidCpr


@pytest.mark.parametrize(
    ("raw", "born"),
    [
        ("010145-1234", date(1945, 1, 1)),  # 7th digit 0–3: 1900s
        ("0101451234", date(1945, 1, 1)),  # 10 digits without the dash
        (" 311299-3999 ", date(1999, 12, 31)),
        ("150520-4111", date(2020, 5, 15)),  # 4 with 00–36: 2000s
        ("150537-4111", date(1937, 5, 15)),  # 4 with 37–99: 1900s
        ("010110-9876", date(2010, 1, 1)),  # 9 like 4
        ("010199-9876", date(1999, 1, 1)),
        ("290212-5000", date(2012, 2, 29)),  # 5–8 with 00–57: 2000s, leap day
        ("010158-6000", date(1858, 1, 1)),  # 5–8 with 58–99: 1800s
        ("010145-1235", date(1945, 1, 1)),  # fails modulus 11: still valid since 2007
    ],
)
def test_valid_cpr_numbers(raw, born):
    digits, birth = service.parse_cpr(raw)
    assert len(digits) == 10 and digits.isdigit()
    assert birth == born


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "01014512345",  # 11 digits
        "010145-123",  # too short
        "010145_1234",
        "01-01-45-1234",
        "abcdef-1234",
        "320145-1234",  # no 32nd day
        "011345-1234",  # no 13th month
        "290213-5000",  # 2013 was no leap year
        "290200-0000",  # 1900 was no leap year either
        "010130-4000",  # born in 2030: in the future
    ],
)
def test_invalid_cpr_numbers_are_refused_with_a_sentence(raw):
    with pytest.raises(InvalidCpr) as caught:
        service.parse_cpr(raw)
    assert caught.value.status_code == 422
    assert "DDMMYY-SSSS" in str(caught.value)


def test_masked_display_shows_only_the_date_part():
    _, born = service.parse_cpr("010145-1234")
    assert service.mask_cpr(born) == "010145-****"


def test_keyed_hash_is_stable_and_depends_on_the_key():
    a = service.cpr_hash("key-one-that-is-long-enough-0123456789", "0101451234")
    assert a == service.cpr_hash("key-one-that-is-long-enough-0123456789", "0101451234")
    assert a != service.cpr_hash("key-two-that-is-long-enough-0123456789", "0101451234")
    assert "0101451234" not in a


@pytest.mark.parametrize(
    ("text", "ore"),
    [
        ("61,00", 6100),
        ("61", 6100),
        ("61.5", 6150),
        ("1.234,50", 123450),
        ("0,01", 1),
        ("61 kr.", 6100),
    ],
)
def test_kroner_are_parsed_exactly(text, ore):
    assert parse_kroner(text) == ore


@pytest.mark.parametrize("text", ["", "abc", "61,001", "-5"])
def test_bad_kroner_are_refused(text):
    with pytest.raises(Exception) as caught:
        parse_kroner(text)
    assert caught.value.status_code == 422
