"""Putting a municipality into service: the settings that live in other packages
(co-payment caps with the vouchers, the payout account with the payouts) are
written here in the same unit of work, so a refused field leaves nothing behind."""

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.auth.permissions import Actor
from market.municipalities import service as municipalities
from market.municipalities.models import Municipality
from market.payouts.service import clean_bic, clean_iban
from market.people import service as people
from vouchers import service as vouchers


@dataclass
class MunicipalitySetup:
    code: str
    name: str
    postal_codes_text: str
    contact_phone: str
    opening_hours: str
    oncall_email: str = ""
    require_staff_totp: bool = False
    charge_copayment_when_absent: bool = False
    # year → the highest co-payment per unit, in øre
    copayment_caps: dict[int, int] = field(default_factory=dict)
    payment_iban: str = ""
    payment_bic: str = ""


async def set_up_municipality(
    session: AsyncSession, *, actor: Actor | None, setup: MunicipalitySetup
) -> Municipality:
    municipality = await municipalities.set_up(
        session,
        actor=actor,
        code=setup.code,
        name=setup.name,
        postal_codes_text=setup.postal_codes_text,
        contact_phone=setup.contact_phone,
        opening_hours=setup.opening_hours,
        oncall_email=setup.oncall_email,
        require_staff_totp=setup.require_staff_totp,
        charge_copayment_when_absent=setup.charge_copayment_when_absent,
    )
    assert municipality.id is not None
    for year, cap_ore in sorted(setup.copayment_caps.items()):
        await vouchers.set_copayment_cap(
            session, actor=actor, municipality_id=municipality.id, year=year, cap_ore=cap_ore
        )
    if setup.payment_iban.strip() or setup.payment_bic.strip():
        iban, bic = clean_iban(setup.payment_iban), clean_bic(setup.payment_bic)
        municipality = await municipalities.set_payment_account(
            session, municipality_id=municipality.id, iban=iban, bic=bic
        )
        await audit.record(
            session,
            actor=actor,
            action="municipality.payment_account_set",
            entity_type="municipality",
            entity_id=municipality.id or 0,
            municipality_id=municipality.id,
            data={"iban_last4": iban[-4:], "bic": bic},
        )
    return municipality


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
    before = await municipalities.get(session, municipality_id=municipality_id)
    was_required = before.require_staff_totp
    municipality = await municipalities.update_profile(
        session,
        actor=actor,
        municipality_id=municipality_id,
        name=name,
        postal_codes_text=postal_codes_text,
        contact_phone=contact_phone,
        opening_hours=opening_hours,
        oncall_email=oncall_email,
        require_staff_totp=require_staff_totp,
    )
    if require_staff_totp and not was_required:
        await people.second_factor_now_required(session, municipality_id=municipality_id)
    return municipality


async def all_municipalities(session: AsyncSession) -> list[Municipality]:
    return list(await municipalities.list_all(session))
