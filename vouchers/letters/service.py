"""One-time letter codes and the welcome letter. Checking a code belongs here
(the codes are a vouchers table); throttling, opening the session and setting the
password afterwards belong to ``market.auth``."""

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from market import crypto
from market.audit import service as audit
from market.auth import one_time_codes
from market.auth.models import User
from market.auth.permissions import Actor
from market.clock import today as today_in_copenhagen
from market.config import Settings
from market.db import utcnow
from market.errors import AppError
from market.municipalities import service as municipalities
from vouchers.citizens import repository as citizens_repository
from vouchers.citizens.service import citizen_for_staff
from vouchers.exceptions import (
    LetterCodeExpired,
    LetterCodeInvalid,
)
from vouchers.grants import repository as grants_repository
from vouchers.letters import repository
from vouchers.models import (
    Citizen,
    GrantStatus,
    LetterCode,
    VoucherGrant,
)

LETTER_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L
LETTER_CODE_LENGTH = 8
LETTER_CODE_DAYS = 30

# --- letter codes ------------------------------------------------------------


def format_letter_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def normalise_letter_code(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def _letter_hash(secret_key: str, code: str) -> str:
    return crypto.keyed_hash(secret_key, code, purpose="letter-code")


# Key rotation (market keys rotate) recomputes the look-up hash of every letter code.
letter_code_hash = _letter_hash


async def new_letter_code(
    session: AsyncSession, *, settings: Settings, actor: Actor, user: User, citizen: Citizen
) -> tuple[str, LetterCode]:
    assert user.id is not None and citizen.id is not None
    secret_key = settings.secret_key.get_secret_value()
    now = utcnow()
    await repository.replace_open_codes(session, user.id, now)
    code = "".join(secrets.choice(LETTER_CODE_ALPHABET) for _ in range(LETTER_CODE_LENGTH))
    row = await citizens_repository.add(
        session,
        LetterCode(
            user_id=user.id,
            citizen_id=citizen.id,
            code_hash=_letter_hash(secret_key, code),
            code_encrypted=crypto.encrypt(secret_key, code),
            created_by_user_id=actor.user_id,
            created_at=now,
            expires_at=now + timedelta(days=LETTER_CODE_DAYS),
        ),
    )
    assert row.id is not None
    await audit.record(
        session,
        actor=actor,
        action="letter_code.issued",
        entity_type="user",
        entity_id=user.id,
        municipality_id=citizen.municipality_id,
        data={"letter_code_id": row.id, "citizen_id": citizen.id, "expires_at": row.expires_at},
    )
    return format_letter_code(code), row


async def issue_letter_code(
    session: AsyncSession, *, actor: Actor, settings: Settings, citizen_id: int
) -> tuple[str, datetime]:
    """A new one-time code for the citizen's letter; any earlier code stops working."""
    citizen = await citizen_for_staff(session, actor, citizen_id)
    user = await citizens_repository.get_user(session, citizen.user_id)
    assert user is not None
    code, row = await new_letter_code(
        session, settings=settings, actor=actor, user=user, citizen=citizen
    )
    return code, row.expires_at


@dataclass
class Letter:
    citizen: Citizen
    user: User
    municipality_name: str
    grant: VoucherGrant | None
    code: str | None
    code_expires_at: datetime | None


async def letter(
    session: AsyncSession, *, actor: Actor, settings: Settings, citizen_id: int
) -> Letter:
    """The welcome letter with the current code (if one is open). Opening it is
    reading the citizen's record: an audit event."""
    citizen = await citizen_for_staff(session, actor, citizen_id)
    user = await citizens_repository.get_user(session, citizen.user_id)
    assert user is not None and citizen.id is not None
    municipality = await municipalities.get(session, municipality_id=citizen.municipality_id)
    grant = await grants_repository.active_grant_on(session, citizen.id, today_in_copenhagen())
    if grant is None:
        grants = [
            g
            for g in await grants_repository.grants_of_citizen(session, citizen.id)
            if g.status == GrantStatus.ACTIVE
        ]
        grant = grants[0] if grants else None
    open_code = await repository.open_letter_code(session, citizen.user_id, utcnow())
    code = None
    if open_code is not None:
        code = format_letter_code(
            crypto.decrypt(settings.secret_key.get_secret_value(), open_code.code_encrypted)
        )
    await audit.record(
        session,
        actor=actor,
        action="citizen.viewed",
        entity_type="citizen",
        entity_id=citizen.id,
        municipality_id=citizen.municipality_id,
        data={"page": "letter"},
    )
    return Letter(
        citizen=citizen,
        user=user,
        municipality_name=municipality.name,
        grant=grant,
        code=code,
        code_expires_at=open_code.expires_at if open_code else None,
    )


async def sign_in_with_letter_code(
    session: AsyncSession, *, settings: Settings, code: str, client_address: str
) -> tuple[User, str]:
    """Signs a person in once with their letter code; returns the user and a
    session token. Every use, accepted or refused, is an audit event (never with
    the code itself). The throttle, the session and the use's audit event are
    ``market.auth.one_time_codes``'; checking the code is this module's."""

    async def check(now: datetime) -> tuple[User, int]:
        return await _use_letter_code(
            session, settings=settings, code=code, client_address=client_address, now=now
        )

    return await one_time_codes.sign_in_with_code(
        session, settings=settings, client_address=client_address, check=check
    )


async def _refuse(
    session: AsyncSession, *, user: User | None, data: dict[str, object], refusal: AppError
) -> AppError:
    """The audit event of a refused code. An unknown code has no account to file
    it under: it goes to the platform's chain."""
    await audit.record(
        session,
        actor=None,
        action="letter_code.refused",
        entity_type="user" if user is not None else "letter_code",
        entity_id=user.id if user is not None and user.id is not None else "unknown",
        municipality_id=user.municipality_id if user is not None else None,
        data=data,
    )
    return refusal


async def _use_letter_code(
    session: AsyncSession, *, settings: Settings, code: str, client_address: str, now: datetime
) -> tuple[User, int]:
    """Marks the code used and returns its user and row id, or raises (after
    recording the refusal)."""
    cleaned = normalise_letter_code(code)
    row = None
    if len(cleaned) == LETTER_CODE_LENGTH:
        row = await repository.find_letter_code(
            session, _letter_hash(settings.secret_key.get_secret_value(), cleaned)
        )
    if row is None:
        data: dict[str, object] = {"reason": "unknown", "client_address": client_address}
        raise await _refuse(session, user=None, data=data, refusal=LetterCodeInvalid())
    assert row.id is not None
    user = await citizens_repository.get_user(session, row.user_id)
    assert user is not None and user.id is not None
    refusal: AppError | None = None
    if row.used_at is not None or row.replaced_at is not None or not user.is_active:
        refusal = LetterCodeInvalid()
    elif row.expires_at <= now:
        refusal = LetterCodeExpired()
    elif not await repository.mark_code_used(session, row.id, now):
        refusal = LetterCodeInvalid()
    if refusal is not None:
        data = {"letter_code_id": row.id, "reason": refusal.code, "client_address": client_address}
        raise await _refuse(session, user=user, data=data, refusal=refusal)
    return user, row.id


# Setting a password after a letter-code sign-in is auth's; kept here by name for callers.
set_own_password = one_time_codes.set_own_password
own_login = one_time_codes.own_login
