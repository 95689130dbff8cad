"""A citizen's (or a proxy's) MitID sign-in, matched to the citizen register by
the keyed hash of the broker's CPR claim. The CPR is held only in this call:
never stored in clear, logged, audited or put in a URL. Kept apart from
``market.identity.service`` because it needs the citizen register (vouchers),
which the shell may not import."""

import re
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from market.auth import repository as auth_repository
from market.config import Settings
from market.identity import service
from market.identity.exceptions import SignInRefused
from market.identity.models import Audience
from vouchers import service as vouchers

_CPR_CLAIM = re.compile(r"^(\d{6})-?(\d{4})$")


@dataclass
class NoVoucher:
    """Signed in at MitID, but nobody here to sign in as: told whom to call."""

    municipality_id: int


async def sign_in_citizen(
    session: AsyncSession, *, settings: Settings, signed: service.VerifiedSignIn
) -> service.SignedIn | NoVoucher:
    provider = signed.provider
    if provider.audience != Audience.CITIZEN:
        await service.refuse(session, signed=signed, reason="wrong_audience")
        raise SignInRefused("wrong_audience")
    raw = signed.claims.get(provider.person_claim)
    match = _CPR_CLAIM.match(raw.strip()) if isinstance(raw, str) else None
    if match is None:
        await service.refuse(session, signed=signed, reason="no_cpr_claim")
        raise SignInRefused("no_cpr_claim")
    found = await vouchers.match_mitid(
        session,
        settings=settings,
        municipality_id=provider.municipality_id,
        cpr_digits=match.group(1) + match.group(2),
    )
    if found.citizen_user_id is not None and found.citizen_has_voucher:
        user = await auth_repository.get_user(session, found.citizen_user_id)
        if user is not None and user.is_active:
            return await service.sign_in_as(
                session, settings=settings, signed=signed, user=user, how="mitid_citizen"
            )
    if found.proxy_user_id is not None:
        user = await auth_repository.get_user(session, found.proxy_user_id)
        if user is not None:
            return await service.sign_in_as(
                session, settings=settings, signed=signed, user=user, how="mitid_proxy"
            )
    reason = "no_voucher" if found.citizen_user_id is not None else "unknown_citizen"
    await service.refuse(session, signed=signed, reason=reason)
    return NoVoucher(municipality_id=provider.municipality_id)
