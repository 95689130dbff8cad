"""`market audit keygen / checkpoint / verify --checkpoint`, and the upgrade of a
database whose chains were written with unkeyed hashes (migration 0009), on the
database MARKET_TEST_DB names."""

import asyncio
import json

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from market.cli import app
from market.config import Settings, get_settings
from market.db import create_engine
from market.migrations import upgrade
from tests.conftest import _make_database, _pg_admin

runner = CliRunner()


@pytest.fixture
def fresh_db(tmp_path, monkeypatch):
    """A database of its own, migrated to `revision` by the test."""
    url, pg_name = _make_database(tmp_path)
    monkeypatch.setenv("MARKET_DATABASE_URL", url)
    monkeypatch.setenv("MARKET_SIGNING_UNUSED", "1")
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
    if pg_name:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))


def _sql(url: str, statement: str) -> None:
    async def run() -> None:
        engine = create_engine(Settings(database_url=url))
        async with engine.begin() as connection:
            await connection.execute(text(statement))
        await engine.dispose()

    asyncio.run(run())


def _make_users(n: int) -> None:
    for i in range(n):
        result = runner.invoke(
            app,
            [
                "users", "create", f"p{i}@velfaerd.example", "--full-name", f"Pia {i}",
                "--role", "platform_admin", "--password", "long-enough-password",
            ],
        )  # fmt: skip
        assert result.exit_code == 0, result.output


def test_checkpoint_round_trip_and_a_rewritten_history(fresh_db, tmp_path, monkeypatch):
    upgrade(fresh_db)
    key = tmp_path / "audit-signing.pem"
    made = runner.invoke(app, ["audit", "keygen", "--out", str(key)])
    assert made.exit_code == 0, made.output
    assert (key.stat().st_mode & 0o777) == 0o600
    assert runner.invoke(app, ["audit", "keygen", "--out", str(key)]).exit_code == 2
    monkeypatch.setenv("MARKET_AUDIT_SIGNING_KEY_FILE", str(key))
    get_settings.cache_clear()

    _make_users(3)
    file = tmp_path / "checkpoint.json"
    written = runner.invoke(app, ["audit", "checkpoint", "--out", str(file)])
    assert written.exit_code == 0, written.output
    [entry] = json.loads(file.read_text())["entries"]
    assert entry["chain"] == "platform" and entry["seq"] == 3

    ok = runner.invoke(app, ["audit", "verify", "--checkpoint", str(file)])
    assert ok.exit_code == 0, ok.output
    assert "event 3 as signed at" in ok.output

    # The second user's event rewritten, and every hash after it too: the checkpoint tells.
    _sql(fresh_db, "UPDATE audit_event SET hash = 'x' || substr(hash, 2) WHERE seq = 3")
    broken = runner.invoke(app, ["audit", "verify", "--checkpoint", str(file)])
    assert broken.exit_code == 1
    assert "REWRITTEN platform" in broken.output

    document = json.loads(file.read_text())
    document["entries"][0]["seq"] = 2
    file.write_text(json.dumps(document))
    refused = runner.invoke(app, ["audit", "verify", "--checkpoint", str(file)])
    assert refused.exit_code == 2
    assert "Checkpoint refused" in refused.output and "altered" in refused.output


def test_checkpoint_without_a_signing_key_says_how_to_make_one(fresh_db):
    upgrade(fresh_db)
    result = runner.invoke(app, ["audit", "checkpoint"])
    assert result.exit_code == 2 and "market audit keygen" in result.output


def _seal_as_migration_0009_does(url: str) -> None:
    import importlib.util

    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    from market.migrations import ROOT

    [path] = (ROOT / "alembic" / "versions").glob("0009_hardening_integrations.py")
    spec = importlib.util.spec_from_file_location("migration_0015", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def seal(sync_connection) -> None:
        with Operations.context(MigrationContext.configure(sync_connection)):
            module._seal_existing_chains()

    async def run() -> None:
        engine = create_engine(Settings(database_url=url))
        async with engine.begin() as connection:
            await connection.run_sync(seal)
        await engine.dispose()

    asyncio.run(run())


def test_the_upgrade_seals_unkeyed_chains_with_a_keyed_event(fresh_db):
    from market.audit import service as audit
    from market.audit.models import AuditEvent

    upgrade(fresh_db)
    _make_users(3)

    async def as_written_before() -> None:
        """Turn the events into what a version before 0009 wrote: unkeyed SHA-256."""
        from sqlalchemy import select, update
        from sqlalchemy.ext.asyncio import AsyncSession

        from market.audit.models import AuditChainHead

        engine = create_engine(Settings(database_url=fresh_db))
        async with AsyncSession(engine) as session, session.begin():
            events = (await session.execute(select(AuditEvent).order_by(AuditEvent.seq))).scalars()
            previous = "0" * 64
            for event in events.all():
                event.prev_hash, event.hash_version, event.key_id = previous, 0, None
                event.hash = previous = audit.event_hash(audit._row_values(event))
            await session.execute(update(AuditChainHead).values(hash=previous))
        await engine.dispose()

    asyncio.run(as_written_before())
    legacy = runner.invoke(app, ["audit", "verify"])
    assert legacy.exit_code == 1 and "no keyed event" in legacy.output

    _seal_as_migration_0009_does(fresh_db)
    sealed = runner.invoke(app, ["audit", "verify"])
    assert sealed.exit_code == 0, sealed.output
    assert "platform: 4 events" in sealed.output

    # The unkeyed history before the seal can no longer be edited unnoticed.
    _sql(fresh_db, "UPDATE audit_event SET data_json = '{}' WHERE seq = 2")
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 1
