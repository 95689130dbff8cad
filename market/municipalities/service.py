from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from market.municipalities import repository
from market.municipalities.exceptions import MunicipalityNotFound, UnknownPostalCode
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
) -> Municipality:
    municipality = await repository.add(
        session,
        Municipality(
            code=code, name=name, require_staff_totp=require_staff_totp, oncall_email=oncall_email
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
