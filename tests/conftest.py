"""Test harness. The database is built by the real Alembic migrations, once per
run, on SQLite (default) or PostgreSQL (MARKET_TEST_DB=postgresql). Each test
runs inside a transaction that is rolled back afterwards; the app's unit of
work commits to a savepoint inside it.

MARKET_TEST_STRICT=1 turns every skip into a failure, so CI cannot go green
on a suite that did not run."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from market.app import create_app
from market.auth.security import use_password_hasher
from market.config import Settings
from market.db import create_engine
from market.migrations import upgrade, upgrade_async

TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
PG_ADMIN_URL = os.environ.get(
    "MARKET_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
STRICT = os.environ.get("MARKET_TEST_STRICT") == "1"

# Real argon2, with parameters cheap enough for a suite that creates many users.
use_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped under MARKET_TEST_STRICT=1: {reason}"


def backend() -> str:
    return os.environ.get("MARKET_TEST_DB", "sqlite")


async def _pg_admin(sql: str) -> None:
    import asyncpg

    url = make_url(PG_ADMIN_URL)
    conn = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, database=url.database
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@asynccontextmanager
async def committed_database(directory: Path, name: str) -> AsyncIterator[str]:
    """A freshly migrated database of the test's own, for races and killed
    workers that need committed data and separate connections (never the
    rolled-back session): a SQLite file in ``directory`` or a throwaway
    PostgreSQL database ``market_<name>_<random>``, dropped afterwards."""
    pg_name = None
    if backend() == "postgresql":
        pg_name = f"market_{name}_{uuid.uuid4().hex[:12]}"
        await _pg_admin(f'CREATE DATABASE "{pg_name}"')
        url = make_url(PG_ADMIN_URL).set(database=pg_name).render_as_string(hide_password=False)
    else:
        url = f"sqlite+aiosqlite:///{directory / f'{name}.db'}"
    try:
        await upgrade_async(url)
        yield url
    finally:
        if pg_name:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


def _make_database(tmp_dir: Path) -> tuple[str, str | None]:
    """Returns (url, name of a PostgreSQL database to drop afterwards)."""
    if backend() == "postgresql":
        name = f"market_test_{uuid.uuid4().hex[:12]}"
        try:
            asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
        except OSError as exc:
            pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
        url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        return url, name
    return f"sqlite+aiosqlite:///{tmp_dir / 'test.db'}", None


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, pg_name = _make_database(tmp_path_factory.mktemp("db"))
    upgrade(url)
    yield url
    if pg_name:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        secret_key=TEST_SECRET,
        upload_dir=tmp_path_factory.mktemp("uploads"),
        default_language="en",
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with engine.connect() as connection:
        transaction = await connection.begin()
        db_session = AsyncSession(
            bind=connection,
            join_transaction_mode="create_savepoint",
            expire_on_commit=False,
            autoflush=False,
        )
        try:
            yield db_session
        finally:
            await db_session.close()
            await transaction.rollback()


@pytest.fixture
def app(settings: Settings, session: AsyncSession):
    @asynccontextmanager
    async def provide() -> AsyncIterator[AsyncSession]:
        yield session

    return create_app(settings, session_provider=provide)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


from tests.demo_server import *  # noqa: E402, F403
from tests.factories import *  # noqa: E402, F403
from tests.stripe_server import *  # noqa: E402, F403
