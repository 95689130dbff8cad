"""`market identity …` against a migrated SQLite file."""

import sqlite3

import pytest
from typer.testing import CliRunner

from market.cli import app
from market.migrations import upgrade

runner = CliRunner()
SECRET = "the-client-secret-from-entra"


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    path = tmp_path / "cli.db"
    url = f"sqlite+aiosqlite:///{path}"
    monkeypatch.setenv("MARKET_DATABASE_URL", url)
    monkeypatch.setenv("MARKET_PUBLIC_URL", "https://velfaerd.example")
    from market.config import get_settings

    get_settings.cache_clear()
    upgrade(url)
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO municipality (code, name, require_staff_totp, "
            "charge_copayment_when_absent, created_at) "
            "VALUES ('0751', 'Aarhus Kommune', 0, 0, '2026-01-01 00:00:00')"
        )
    yield path
    get_settings.cache_clear()


def invoke(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


def test_configure_keeps_the_secret_encrypted_and_issues_a_binding_link(cli_db):
    made = invoke(
        "identity", "configure", "--municipality-code", "0751", "--for", "staff",
        "--issuer", "https://login.microsoftonline.com/tenant/v2.0", "--client-id", "app-1",
        "--claim", "oid", "--mfa-amr", "mfa", "--no-staff-passwords",
        input=SECRET + "\n",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    listed = invoke("identity", "list")
    assert "app-1" in listed.output and "claim=oid" in listed.output
    assert SECRET not in listed.output
    with sqlite3.connect(cli_db) as db:
        stored = db.execute("SELECT client_secret_encrypted FROM identity_provider").fetchone()[0]
        audit = " ".join(r[0] for r in db.execute("SELECT data_json FROM audit_event"))
    assert SECRET not in stored and SECRET not in audit

    created = invoke(
        "users", "create", "sb@aarhus.example", "--full-name", "Sara Berg",
        "--role", "case_worker", "--municipality-code", "0751",
        "--password", "long-enough-password",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    link = invoke("identity", "binding-link", "sb@aarhus.example")
    assert link.exit_code == 0, link.output
    assert "https://velfaerd.example/login/bind/bind_" in link.output
    token = link.output.split("/login/bind/")[1].split()[0]
    with sqlite3.connect(cli_db) as db:
        hashes = [r[0] for r in db.execute("SELECT token_hash FROM binding_link")]
    assert len(hashes) == 1 and token not in hashes[0]

    bound = invoke(
        "identity", "bind", "sb@aarhus.example", "--subject", "oid-123",
        "--municipality-code", "0751",
    )  # fmt: skip
    assert bound.exit_code == 0, bound.output


def test_configure_refuses_an_insecure_issuer_with_a_sentence(cli_db, monkeypatch):
    monkeypatch.setenv("MARKET_ENVIRONMENT", "production")
    monkeypatch.setenv("MARKET_SECRET_KEY", "x" * 40)
    from market.config import get_settings

    get_settings.cache_clear()
    result = invoke(
        "identity", "configure", "--municipality-code", "0751", "--for", "citizen",
        "--issuer", "http://broker.example", "--client-id", "c", input="s\n",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "https" in result.output
    assert "Traceback" not in result.output
