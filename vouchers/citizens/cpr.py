"""Danish CPR numbers: parsing, masking and the keyed look-up hash. The number
itself never appears in a URL, a log or an error."""

import re
from datetime import date

from market import crypto
from market.clock import today as today_in_copenhagen
from vouchers.exceptions import (
    InvalidCpr,
)

# --- CPR ---------------------------------------------------------------------

_CPR_RE = re.compile(r"^(\d{6})-?(\d{4})$")


def parse_cpr(raw: str) -> tuple[str, date]:
    """Returns (10 digits, date of birth). The century comes from the 7th digit
    (CPR rules); modulus 11 is not checked (it was dropped in 2007)."""
    match = _CPR_RE.match(raw.strip().replace(" ", ""))
    if not match:
        raise InvalidCpr()
    digits = match.group(1) + match.group(2)
    day, month, yy, seventh = int(digits[0:2]), int(digits[2:4]), int(digits[4:6]), int(digits[6])
    if seventh <= 3:
        century = 1900
    elif seventh in (4, 9):
        century = 2000 if yy <= 36 else 1900
    else:  # 5–8
        century = 2000 if yy <= 57 else 1800
    try:
        born = date(century + yy, month, day)
    except ValueError as exc:
        raise InvalidCpr() from exc
    if born > today_in_copenhagen():
        raise InvalidCpr()
    return digits, born


def looks_like_cpr(text: str) -> bool:
    return bool(_CPR_RE.match(text.strip().replace(" ", "")))


def mask_cpr(birth_date: date) -> str:
    return birth_date.strftime("%d%m%y") + "-****"


def cpr_hash(secret_key: str, digits: str) -> str:
    return crypto.keyed_hash(secret_key, digits, purpose="cpr")
