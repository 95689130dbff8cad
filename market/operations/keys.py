"""Key rotation: every CPR number, letter code and second-factor secret is
re-encrypted under the new MARKET_SECRET_KEY, read with whichever of the old
keys (MARKET_OLD_SECRET_KEYS) encrypted it, and the keyed look-up hashes are
recomputed. One transaction: it all moves to the new key, or nothing does."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from market import crypto
from market.audit import service as audit
from market.operations import repository
from vouchers import service as vouchers


@dataclass
class RotationReport:
    citizens: int = 0
    letter_codes: int = 0
    second_factors: int = 0


async def rotate(session: AsyncSession, *, secret_key: str, old_keys: list[str]) -> RotationReport:
    report = RotationReport()
    for citizen in await repository.all_citizens(session):
        citizen.cpr_encrypted = crypto.rotate(secret_key, old_keys, citizen.cpr_encrypted)
        digits = crypto.decrypt(secret_key, citizen.cpr_encrypted)
        citizen.cpr_hash = vouchers.cpr_hash(secret_key, digits)
        report.citizens += 1
    for letter in await repository.all_letter_codes(session):
        letter.code_encrypted = crypto.rotate(secret_key, old_keys, letter.code_encrypted)
        code = crypto.decrypt(secret_key, letter.code_encrypted)
        letter.code_hash = vouchers.letter_code_hash(secret_key, code)
        report.letter_codes += 1
    for user in await repository.users_with_second_factor(session):
        assert user.totp_secret_encrypted is not None
        user.totp_secret_encrypted = crypto.rotate(secret_key, old_keys, user.totp_secret_encrypted)
        report.second_factors += 1
    await audit.record(
        session,
        actor=None,
        action="secret_key.rotated",
        entity_type="platform",
        entity_id="secret_key",
        municipality_id=None,
        data={
            "citizens": report.citizens,
            "letter_codes": report.letter_codes,
            "second_factors": report.second_factors,
        },
    )
    return report
