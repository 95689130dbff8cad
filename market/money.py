"""Kroner typed by people, to exact øre. Danish notation first ("1.250,50"),
then English ("1,250.50"); Babel's strict parser refuses anything ambiguous."""

from decimal import Decimal

from babel.numbers import NumberFormatError, parse_decimal

from market.errors import N_, InvalidInput


class NotAnAmount(InvalidInput):
    def __init__(self, text: str) -> None:
        super().__init__(N_("“{text}” is not an amount in kroner. Write it like 85,00."), text=text)


def parse_kroner(text: str) -> int:
    """'85,00', '85.00', '1.250,50 kr.' → whole øre; never through a float."""
    cleaned = str(text).strip().removesuffix(".").removesuffix("kr").strip()
    amount: Decimal | None = None
    for locale in ("da", "en"):
        try:
            amount = parse_decimal(cleaned, locale=locale, strict=True)
            break
        except NumberFormatError:
            continue
    if amount is None or not amount.is_finite():
        raise NotAnAmount(text)
    ore = amount * 100
    if ore != ore.to_integral_value():
        raise InvalidInput(N_("An amount in kroner can have at most two decimals (øre)."))
    if ore < 0:
        raise InvalidInput(N_("An amount in kroner cannot be negative."))
    return int(ore)


def format_kroner(ore: int) -> str:
    """'1.250,50' — for form fields; pages use the locale-aware ``kroner`` filter."""
    whole, cents = divmod(abs(ore), 100)
    sign = "-" if ore < 0 else ""
    return f"{sign}{whole:,}".replace(",", ".") + f",{cents:02d}"
