"""The `market` command against a real, migrated SQLite file (whatever MARKET_TEST_DB
says: this tests the command, the database layer is tested on both elsewhere)."""

import sqlite3

import pytest
from typer.testing import CliRunner

from market.cli import app
from market.migrations import upgrade

runner = CliRunner()


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    path = tmp_path / "cli.db"
    url = f"sqlite+aiosqlite:///{path}"
    monkeypatch.setenv("MARKET_DATABASE_URL", url)
    from market.config import get_settings

    get_settings.cache_clear()
    upgrade(url)
    yield path
    get_settings.cache_clear()


def test_users_create_and_audit_verify_names_the_broken_link(cli_db):
    for n in range(3):
        result = runner.invoke(
            app,
            [
                "users",
                "create",
                f"p{n}@velfaerd.example",
                "--full-name",
                f"Pia {n}",
                "--role",
                "platform_admin",
                "--password",
                "long-enough-password",
            ],
        )
        assert result.exit_code == 0, result.output
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0 and "platform: 3 events" in ok.output

    with sqlite3.connect(cli_db) as db:
        db.execute("UPDATE audit_event SET data_json = '{}' WHERE seq = 2")
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1
    assert "BROKEN  platform at event 2" in broken.output


def test_users_create_refuses_bad_input_with_a_sentence(cli_db):
    result = runner.invoke(
        app,
        [
            "users",
            "create",
            "x@velfaerd.example",
            "--full-name",
            "X",
            "--role",
            "wizard",
            "--password",
            "long-enough-password",
        ],
    )
    assert result.exit_code == 2 and "unknown role" in result.output
    short = runner.invoke(
        app,
        [
            "users",
            "create",
            "x@velfaerd.example",
            "--full-name",
            "X",
            "--role",
            "platform_admin",
            "--password",
            "short",
        ],
    )
    assert short.exit_code == 2 and "at least 10 characters" in short.output


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://nobody@127.0.0.1:1/nothing",
        "postgresql+asyncpg://postgres@127.0.0.1:5432/no_such_database_here",
        "sqlite+aiosqlite:////proc/no-such-dir/market.db",
    ],
)
@pytest.mark.parametrize("command", [["audit", "verify"], ["vouchers", "verify"], ["tick"]])
def test_an_unreachable_database_is_one_sentence_and_exit_code_3(monkeypatch, url, command):
    from market.config import get_settings

    monkeypatch.setenv("MARKET_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, command)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 3, result.output
    assert result.output.startswith("Error: cannot reach")
    assert "Traceback" not in result.output and len(result.output.splitlines()) == 1
