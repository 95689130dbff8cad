"""Failed attempts counted on the server for things that have no account row of
their own: an unknown e-mail address, a client address, or the whole letter-code
sign-in. After ``after`` failures within one window (MARKET_THROTTLE_WINDOW_SECONDS)
the key backs off exponentially, the same curve as a real account's failed passwords, so the
answers (401, then 429) never tell a real account from an unknown one.

Keys are keyed hashes: no e-mail address or IP address is stored in clear."""

from datetime import datetime, timedelta

from sqlalchemy import case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market import crypto
from market.auth.models import AuthThrottle
from market.config import Settings
from market.db import table_of


def key(settings: Settings, kind: str, value: str) -> str:
    return crypto.keyed_hash(settings.secret_key.get_secret_value(), value, purpose=kind)


def backoff_seconds(settings: Settings, failures: int, after: int) -> int:
    over = failures - after
    if over < 0:
        return 0
    return min(settings.login_backoff_base_seconds * 2**over, settings.login_backoff_max_seconds)


async def seconds_locked(session: AsyncSession, *, key: str, now: datetime) -> int:
    """How long ``key`` must still wait (0: it may try)."""
    until = (
        await session.execute(
            select(col(AuthThrottle.locked_until)).where(col(AuthThrottle.key) == key)
        )
    ).scalar_one_or_none()
    if until is None or until <= now:
        return 0
    return int((until - now).total_seconds()) + 1


async def record_failure(
    session: AsyncSession, *, settings: Settings, key: str, after: int, now: datetime
) -> int:
    """Counts one failure (one atomic upsert, safe under concurrent requests) and
    locks the key when it passes ``after``; returns the failures in the window."""
    window_start = now - timedelta(seconds=settings.throttle_window_seconds)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = table_of(AuthThrottle)
    expired = table.c.window_started_at < window_start
    first = insert(table).values(key=key, failures=1, window_started_at=now)
    statement = first.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            # A fixed window from the first failure: a new window starts at 1.
            "failures": case((expired, 1), else_=table.c.failures + 1),
            "window_started_at": case((expired, now), else_=table.c.window_started_at),
        },
    ).returning(table.c.failures)
    failures = (await session.execute(statement)).scalar_one()
    wait = backoff_seconds(settings, failures, after)
    if wait:
        await session.execute(
            update(AuthThrottle)
            .where(col(AuthThrottle.key) == key)
            .values(locked_until=now + timedelta(seconds=wait))
        )
    return failures


async def reset(session: AsyncSession, *, key: str) -> None:
    await session.execute(
        update(AuthThrottle)
        .where(col(AuthThrottle.key) == key)
        .values(failures=0, locked_until=None)
    )
