"""`market municipalities create|list` and `market users invite` against a real,
migrated SQLite file: the commands an operator starts with on an empty database."""

import sqlite3

import pytest
from typer.testing import CliRunner

from market.cli import app
from market.migrations import upgrade

runner = CliRunner()

CREATE = [
    "municipalities",
    "create",
    "0746",
    "--name",
    "Skanderborg Kommune",
    "--postal-code",
    "8660 Skanderborg",
    "--postal-code",
    "8680 Ry",
    "--contact-phone",
    "+45 87 94 70 00",
    "--opening-hours",
    "Hverdage 8–15",
    "--cap",
    "2027=61,00",
]


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    path = tmp_path / "cli.db"
    url = f"sqlite+aiosqlite:///{path}"
    monkeypatch.setenv("MARKET_DATABASE_URL", url)
    monkeypatch.setenv("MARKET_PUBLIC_URL", "https://velfaerd.example")
    from market.config import get_settings

    get_settings.cache_clear()
    upgrade(url)
    yield path
    get_settings.cache_clear()


def test_an_empty_database_gets_a_municipality_and_its_first_admin(cli_db):
    assert "No municipality is set up yet." in runner.invoke(app, ["municipalities", "list"]).output
    created = runner.invoke(app, CREATE)
    assert created.exit_code == 0, created.output
    listed = runner.invoke(app, ["municipalities", "list"])
    assert "0746  Skanderborg Kommune" in listed.output and "0 staff" in listed.output

    invited = runner.invoke(
        app,
        ["users", "invite", "first@skanderborg.dk", "--role", "municipal_admin",
         "--municipality-code", "0746"],
    )  # fmt: skip
    assert invited.exit_code == 0, invited.output
    assert "https://velfaerd.example/invitation/" in invited.output
    # `users create` keeps working once the municipality exists.
    made = runner.invoke(
        app,
        ["users", "create", "second@skanderborg.dk", "--full-name", "Bo", "--role",
         "municipal_admin", "--municipality-code", "0746", "--password", "long-enough-password"],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "2 staff" in runner.invoke(app, ["municipalities", "list"]).output

    with sqlite3.connect(cli_db) as db:
        require_totp, phone = db.execute(
            "SELECT require_staff_totp, contact_phone FROM municipality"
        ).fetchone()
        caps = db.execute("SELECT year, cap_ore FROM copayment_cap").fetchall()
        token = db.execute("SELECT token_hash FROM user_token").fetchone()[0]
    assert require_totp == 1 and phone == "+45 87 94 70 00"
    assert caps == [(2027, 6100)]
    assert token not in invited.output  # only the hash is stored
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (["--cap", "2027"], "YEAR=KRONER"),
        (["--contact-phone", "ring"], "telephone"),
        (["--iban", "DK00", "--bic", "DABADKKK"], "IBAN"),
    ],
)
def test_bad_input_is_one_sentence_and_writes_nothing(cli_db, change, words):
    args = list(CREATE)
    flag = change[0]
    if flag in args:
        at = args.index(flag)
        del args[at : at + 2]
    result = runner.invoke(app, [*args, *change])
    assert result.exit_code == 2
    assert words.lower() in result.output.lower() and "Traceback" not in result.output
    with sqlite3.connect(cli_db) as db:
        assert db.execute("SELECT count(*) FROM municipality").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM audit_event").fetchone() == (0,)


def test_the_same_code_twice_is_refused(cli_db):
    assert runner.invoke(app, CREATE).exit_code == 0
    again = runner.invoke(app, CREATE)
    assert again.exit_code == 2 and "0746" in again.output


def test_inviting_into_a_municipality_that_does_not_exist(cli_db):
    result = runner.invoke(
        app, ["users", "invite", "x@y.dk", "--role", "case_worker", "--municipality-code", "9999"]
    )
    assert result.exit_code == 2 and "9999" in result.output
