"""A statement line's sentence, rendered when shown, in the reader's language.

Lines store an English message id with {placeholders} and raw parameters
(rules.py); the parameter's name says how it is shown: ``*_ore`` in kroner,
``*_bp`` as a percentage, ``month`` ("2026-10") as the month's name, other
numbers with the language's digit grouping."""

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from babel.numbers import format_decimal

from market import i18n
from market.templating import kroner, month_words


def percent(bp: int | str | Decimal, language: str | None = None) -> str:
    """da: "89,84 %", en: "89.84%" (at most two decimals)."""
    language = language or i18n.current_language.get()
    value = (Decimal(str(bp)) / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    text = format_decimal(value, format="#,##0.##", locale=i18n.babel_locale(language))
    return f"{text} %" if language == "da" else f"{text}%"


def shown(name: str, value: Any, language: str) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if name.endswith("_ore"):
        return kroner(value, language)
    if name.endswith("_bp"):
        return percent(value, language)
    if name == "month" and isinstance(value, str) and len(value) == 7:  # "2026-10"
        return month_words(date(int(value[:4]), int(value[5:]), 1), language)
    if isinstance(value, int):
        return format_decimal(value, format="#,##0", locale=i18n.babel_locale(language))
    return str(value)


def render(message: str, params: dict[str, Any], language: str | None = None) -> str:
    """The sentence in ``language`` (default: the request's)."""
    language = language or i18n.current_language.get()
    template = i18n.translations(language).gettext(message)
    values = {name: shown(name, value, language) for name, value in params.items()}
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        # A translation with a broken placeholder must not hide the line: use English.
        return message.format(**values)
