"""Signing in once with a one-time code (the code from a citizen's or a proxy's
letter), and choosing a password afterwards.

The codes themselves are a vouchers table, and the shell does not import the
domains: the vouchers side passes in the check of the code (``CodeCheck``), and
this module does what every such sign-in needs: the throttle (per client address
and for the whole sign-in; past the limits the answer is a 429), the session,
and the audit event of a use."""

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.auth import repository, service, throttle
from market.auth.exceptions import (
    LetterCodeBackedOff,
    LetterCodeExpired,
    LetterCodeInvalid,
    WeakPassword,
)
from market.auth.models import User
from market.auth.permissions import Actor
from market.auth.security import hash_password_off_loop
from market.config import Settings
from market.db import utcnow

# Given the time of the attempt: the user the code belongs to and the code's row
# id (for the audit event), or LetterCodeInvalid / LetterCodeExpired.
CodeCheck = Callable[[datetime], Awaitable[tuple[User, int]]]


async def sign_in_with_code(
    session: AsyncSession, *, settings: Settings, client_address: str, check: CodeCheck
) -> tuple[User, str]:
    """Signs a person in once with a one-time code; returns the user and a
    session token. Failures are counted per client address and for the whole
    sign-in; past the limits the answer is a 429 before the code is looked at."""
    now = utcnow()
    address_key = throttle.key(settings, "letter-code-address", client_address)
    everyone_key = throttle.key(settings, "letter-code-all", "all")
    wait = max(
        await throttle.seconds_locked(session, key=address_key, now=now),
        await throttle.seconds_locked(session, key=everyone_key, now=now),
    )
    if wait:
        raise LetterCodeBackedOff(wait)
    try:
        user, code_id = await check(now)
    except (LetterCodeInvalid, LetterCodeExpired):
        for key, after in (
            (address_key, settings.letter_code_backoff_after),
            (everyone_key, settings.letter_code_global_backoff_after),
        ):
            await throttle.record_failure(session, settings=settings, key=key, after=after, now=now)
        raise
    token = await _open_code_session(
        session, settings=settings, user=user, code_id=code_id, client_address=client_address
    )
    await throttle.reset(session, key=address_key)
    return user, token


async def _open_code_session(
    session: AsyncSession, *, settings: Settings, user: User, code_id: int, client_address: str
) -> str:
    assert user.id is not None
    token = await service.open_session(session, settings=settings, user=user)
    await audit.record(
        session,
        actor=service.actor_for(user),
        action="letter_code.used",
        entity_type="user",
        entity_id=user.id,
        municipality_id=user.municipality_id,
        data={"letter_code_id": code_id, "client_address": client_address},
    )
    return token


async def set_own_password(session: AsyncSession, *, actor: Actor, password: str) -> User:
    """After signing in with a letter code, a citizen or proxy picks a password."""
    if len(password) < service.MIN_PASSWORD_LENGTH:
        raise WeakPassword()
    user = await repository.get_user(session, actor.user_id)
    assert user is not None
    await repository.set_password_hash(
        session, actor.user_id, await hash_password_off_loop(password)
    )
    await audit.record(
        session,
        actor=actor,
        action="user.password_set",
        entity_type="user",
        entity_id=actor.user_id,
        municipality_id=user.municipality_id,
    )
    return user


async def own_login(session: AsyncSession, *, actor: Actor) -> User:
    """The signed-in person's own login."""
    user = await repository.get_user(session, actor.user_id)
    assert user is not None
    return user
