"""One periodic runner at a time, across processes and machines: a PostgreSQL
session-level advisory lock, or an exclusive file lock beside the SQLite file."""

import fcntl
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

# Any fixed 64-bit number, the same in every process that runs the periodic work.
ADVISORY_LOCK_KEY = 0x76656C66_74696B


def sqlite_lock_path(database_url: str) -> Path | None:
    database = make_url(database_url).database
    if not database or database == ":memory:":
        return None
    return Path(database).with_name(Path(database).name + ".periodic-lock")


@asynccontextmanager
async def periodic_lock(engine: AsyncEngine) -> AsyncIterator[bool]:
    """Yields True when this process holds the lock for the block, False when
    another runner has it (then do nothing this round)."""
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            held = (
                await connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
                )
            ).scalar_one()
            await connection.commit()
            try:
                yield bool(held)
            finally:
                if held:
                    await connection.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY}
                    )
                    await connection.commit()
        return
    path = sqlite_lock_path(engine.url.render_as_string(hide_password=False))
    if path is None:
        yield True
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
