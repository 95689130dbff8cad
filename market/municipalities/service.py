import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.auth.permissions import Actor
from market.errors import N_, InvalidInput, PermissionDenied
from market.municipalities import repository
from market.municipalities.exceptions import (
    MunicipalityCodeTaken,
    MunicipalityNotFound,
    UnknownPostalCode,
)
from market.municipalities.models import Municipality, MunicipalityPostalCode


async def get(session: AsyncSession, *, municipality_id: int) -> Municipality:
    municipality = await repository.get(session, municipality_id)
    if municipality is None:
        raise MunicipalityNotFound()
    return municipality


async def set_copayment_when_absent(
    session: AsyncSession, *, municipality_id: int, charge: bool
) -> Municipality:
    await repository.update_settings(session, municipality_id, charge_copayment_when_absent=charge)
    return await get(session, municipality_id=municipality_id)


async def set_payment_account(
    session: AsyncSession, *, municipality_id: int, iban: str, bic: str
) -> Municipality:
    """The municipality's own bank account: the debtor of its payment files."""
    await repository.update_settings(
        session, municipality_id, payment_account_iban=iban, payment_account_bic=bic
    )
    return await get(session, municipality_id=municipality_id)


async def list_all(session: AsyncSession) -> Sequence[Municipality]:
    return await repository.list_all(session)


async def create(
    session: AsyncSession,
    *,
    code: str,
    name: str,
    postal_codes: dict[str, str],
    require_staff_totp: bool = False,
    oncall_email: str | None = None,
    contact_phone: str | None = None,
    opening_hours: str | None = None,
    charge_copayment_when_absent: bool = False,
) -> Municipality:
    municipality = await repository.add(
        session,
        Municipality(
            code=code,
            name=name,
            require_staff_totp=require_staff_totp,
            oncall_email=oncall_email,
            contact_phone=contact_phone,
            opening_hours=opening_hours,
            charge_copayment_when_absent=charge_copayment_when_absent,
        ),
    )
    assert municipality.id is not None
    await repository.add_postal_codes(
        session,
        [
            MunicipalityPostalCode(municipality_id=municipality.id, postal_code=pc, city=city)
            for pc, city in postal_codes.items()
        ],
    )
    return municipality


async def postal_codes(session: AsyncSession, *, municipality_id: int) -> dict[str, str]:
    rows = await repository.postal_codes(session, municipality_id)
    return {row.postal_code: row.city for row in rows}


async def check_postal_codes(
    session: AsyncSession, *, municipality_id: int, codes: list[str]
) -> list[str]:
    """Returns the codes sorted and de-duplicated, or names the first unknown one."""
    municipality = await get(session, municipality_id=municipality_id)
    known = await postal_codes(session, municipality_id=municipality_id)
    cleaned = sorted({code.strip() for code in codes if code.strip()})
    for code in cleaned:
        if code not in known:
            raise UnknownPostalCode(code, municipality.name)
    return cleaned


# --- setting a municipality up and changing its profile ------------------------

_CODE = re.compile(r"^[0-9]{4}$")
_PHONE = re.compile(r"^\+?[0-9 ]{8,20}$")
_POSTAL_LINE = re.compile(r"^([0-9]{4})\s+(\S.{0,79})$")


def clean_code(code: str) -> str:
    code = code.strip()
    if not _CODE.match(code):
        raise InvalidInput(N_("A municipality code is four digits, e.g. 0751."))
    return code


def parse_postal_codes(text: str) -> dict[str, str]:
    """One postal code and its town per line, e.g. “8000 Aarhus C”."""
    codes: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        match = _POSTAL_LINE.match(line)
        if match is None:
            raise InvalidInput(
                N_("Write each postal code with its town on a line of its own, e.g. 8000 Aarhus C.")
            )
        codes[match.group(1)] = match.group(2).strip()
    if not codes:
        raise InvalidInput(N_("Give at least one postal code the municipality serves."))
    return codes


def _clean_profile(
    *, name: str, contact_phone: str, opening_hours: str, oncall_email: str
) -> dict[str, Any]:
    name = name.strip()
    if not name or len(name) > 120:
        raise InvalidInput(N_("Give the municipality a name of 1 to 120 characters."))
    phone = contact_phone.strip()
    if not _PHONE.match(phone):
        raise InvalidInput(N_("Give a telephone number citizens can call, e.g. +45 89 40 20 00."))
    hours = opening_hours.strip()
    if not hours or len(hours) > 200:
        raise InvalidInput(N_("Say when the telephone is answered, in at most 200 characters."))
    email = oncall_email.strip().lower()
    if email and ("@" not in email.strip("@") or len(email) > 254 or " " in email):
        raise InvalidInput(N_("{email} is not an e-mail address."), email=email)
    return {
        "name": name,
        "contact_phone": phone,
        "opening_hours": hours,
        "oncall_email": email or None,
    }


async def set_up(
    session: AsyncSession,
    *,
    actor: Actor | None,
    code: str,
    name: str,
    postal_codes_text: str,
    contact_phone: str,
    opening_hours: str,
    oncall_email: str = "",
    require_staff_totp: bool = False,
    charge_copayment_when_absent: bool = False,
) -> Municipality:
    """A new municipality from a platform admin's form or command (audited)."""
    code = clean_code(code)
    profile = _clean_profile(
        name=name,
        contact_phone=contact_phone,
        opening_hours=opening_hours,
        oncall_email=oncall_email,
    )
    codes = parse_postal_codes(postal_codes_text)
    if await repository.get_by_code(session, code) is not None:
        raise MunicipalityCodeTaken(code)
    municipality = await create(
        session,
        code=code,
        postal_codes=codes,
        require_staff_totp=require_staff_totp,
        charge_copayment_when_absent=charge_copayment_when_absent,
        **profile,
    )
    assert municipality.id is not None
    await audit.record(
        session,
        actor=actor,
        action="municipality.created",
        entity_type="municipality",
        entity_id=municipality.id,
        municipality_id=municipality.id,
        data={
            "code": code,
            "postal_codes": sorted(codes),
            "require_staff_totp": require_staff_totp,
            "charge_copayment_when_absent": charge_copayment_when_absent,
            **profile,
        },
    )
    return municipality


def check_scope(actor: Actor, municipality_id: int) -> None:
    """A platform admin may change any municipality, a municipal admin only their own."""
    if actor.municipality_id is not None and actor.municipality_id != municipality_id:
        raise PermissionDenied(N_("You may only change your own municipality."))


async def update_profile(
    session: AsyncSession,
    *,
    actor: Actor,
    municipality_id: int,
    name: str,
    postal_codes_text: str,
    contact_phone: str,
    opening_hours: str,
    oncall_email: str,
    require_staff_totp: bool,
) -> Municipality:
    """Changes what citizens and staff see and how staff sign in; the audit
    event names every field that changed, with its old and new value."""
    check_scope(actor, municipality_id)
    before = await get(session, municipality_id=municipality_id)
    profile = _clean_profile(
        name=name,
        contact_phone=contact_phone,
        opening_hours=opening_hours,
        oncall_email=oncall_email,
    )
    profile["require_staff_totp"] = require_staff_totp
    codes = parse_postal_codes(postal_codes_text)
    old_codes = await postal_codes(session, municipality_id=municipality_id)
    changes = {
        field: {"from": getattr(before, field), "to": value}
        for field, value in profile.items()
        if getattr(before, field) != value
    }
    if codes != old_codes:
        await repository.replace_postal_codes(
            session,
            municipality_id,
            [
                MunicipalityPostalCode(municipality_id=municipality_id, postal_code=pc, city=city)
                for pc, city in codes.items()
            ],
        )
        changes["postal_codes"] = {"from": sorted(old_codes), "to": sorted(codes)}
    if changes:
        await repository.update_settings(session, municipality_id, **profile)
        await audit.record(
            session,
            actor=actor,
            action="municipality.updated",
            entity_type="municipality",
            entity_id=municipality_id,
            municipality_id=municipality_id,
            data=changes,
        )
    return await repository.refreshed(session, municipality_id)


async def set_finance_settings(
    session: AsyncSession,
    *,
    municipality_id: int,
    peppol_gln: str,
    invoice_buyer_reference: str,
    pain001_version: str,
) -> Municipality:
    """E-invoice endpoint and buyer reference, and the payment file version
    (checked by market.finance)."""
    await repository.update_settings(
        session,
        municipality_id,
        peppol_gln=peppol_gln,
        invoice_buyer_reference=invoice_buyer_reference,
        pain001_version=pain001_version,
    )
    return await get(session, municipality_id=municipality_id)
