"""What every part of the providers domain shares: the default service,
parsing of people's input (CVR numbers, decimals, prices, percentages, postal
codes), whose provider or municipality an actor acts for, and writing
accepted files once every database write succeeded."""

import asyncio
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from babel.numbers import NumberFormatError
from babel.numbers import parse_decimal as babel_parse_decimal

from market.auth.models import MUNICIPAL_ROLES
from market.auth.permissions import Actor, Permission, municipality_scope
from market.errors import (
    N_,
    InvalidInput,
)
from market.money import parse_kroner
from providers.exceptions import (
    InvalidCvr,
    NotAMunicipalUser,
    NotAProviderUser,
)
from providers.models import (
    Application,
)

DEFAULT_SERVICE = "madservice"


CVR_WEIGHTS = (2, 7, 6, 5, 4, 3, 2, 1)


def check_cvr(cvr: str) -> str:
    """A CVR number: 8 digits, not starting with 0, weighted sum divisible by 11."""
    digits = re.sub(r"[\s-]", "", cvr or "")
    if (
        len(digits) != 8
        or not digits.isdigit()
        or digits[0] == "0"
        or sum(int(d) * w for d, w in zip(digits, CVR_WEIGHTS, strict=True)) % 11
    ):
        raise InvalidCvr(cvr.strip() if cvr else "")
    return digits


def _normalise_number(text: str) -> str:
    s = text.strip().replace("\u00a0", "").replace(" ", "").replace("_", "")
    s = re.sub(r"(?i)\s*kr\.?$", "", s)
    if "," in s:  # Danish: 5.000.000,50
        s = s.replace(".", "").replace(",", ".")
    elif s.count(".") > 1:  # 5.000.000
        s = s.replace(".", "")
    return s


def parse_decimal(text: str) -> Decimal:
    try:
        value = Decimal(_normalise_number(text))
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise InvalidInput(N_("“{text}” is not a number."), text=text)
    return value.to_integral_value() if value == value.to_integral_value() else value.normalize()


def parse_unit_price(text: str) -> int:
    ore = parse_kroner(text)
    if ore <= 0:
        raise InvalidInput(N_("The unit price must be more than 0 kroner."))
    return ore


def parse_percent_bp(text: str) -> int:
    """'5', '2,5', '2.5 %' → basis points, exactly (Babel's strict parser, Danish
    first, as market.money parses kroner): 1 % = 100 bp, at most two decimals."""
    cleaned = str(text).strip().removesuffix("%").strip()
    amount: Decimal | None = None
    for locale in ("da", "en"):
        try:
            amount = babel_parse_decimal(cleaned, locale=locale, strict=True)
            break
        except NumberFormatError:
            continue
    if amount is None or not amount.is_finite():
        raise InvalidInput(N_("“{text}” is not a percentage. Write it like 5 or 2,5."), text=text)
    bp = amount * 100
    if bp != bp.to_integral_value():
        raise InvalidInput(
            N_("“{text}” has too many decimals: a percentage can have at most two."), text=text
        )
    return int(bp)


def split_postal_codes(text: str) -> list[str]:
    return [code for code in re.split(r"[\s,;]+", text or "") if code]


def required(value: str, missing: str, max_length: int) -> str:
    """``missing`` is the whole sentence to show when the field is empty."""
    value = (value or "").strip()
    if not value:
        raise InvalidInput(missing)
    if len(value) > max_length:
        raise InvalidInput(
            N_("“{start}…” is too long: at most {max} characters."),
            start=value[:30],
            max=max_length,
        )
    return value


def provider_of(actor: Actor) -> int:
    if actor.provider_id is None:
        raise NotAProviderUser()
    return actor.provider_id


def municipality_of(actor: Actor) -> int:
    """The municipality a member of its staff acts for (the shell's one scope
    rule); anybody outside a municipal role is refused the same way."""
    if actor.role not in MUNICIPAL_ROLES:
        raise NotAMunicipalUser()
    return municipality_scope(actor, None, NotAMunicipalUser)


def may_see_application(actor: Actor, application: Application) -> bool:
    """The provider's own users, and staff of the municipality applied to whose
    role may read evidence (admins, auditors) — nobody else."""
    if actor.provider_id is not None:
        return actor.provider_id == application.provider_id
    return (
        actor.municipality_id is not None
        and actor.municipality_id == application.municipality_id
        and actor.can(Permission.EVIDENCE_VIEW)
    )


@dataclass
class PendingFile:
    path: Path
    data: bytes


def write_files(files: list[PendingFile]) -> None:
    for pending in files:
        pending.path.parent.mkdir(parents=True, exist_ok=True)
        with pending.path.open("xb") as fh:
            fh.write(pending.data)


async def store_files(files: list[PendingFile]) -> None:
    """Written after every database write succeeded, so a refused request
    leaves no file behind; a failed write undoes the ones before it."""
    try:
        await asyncio.to_thread(write_files, files)
    except BaseException:
        for pending in files:
            pending.path.unlink(missing_ok=True)
        raise
