"""`market settle` against a real, migrated SQLite file seeded with SQL (this
tests the command; the settlement itself is tested on both databases elsewhere)."""

import sqlite3
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from market.cli import app
from market.migrations import upgrade
from tests.market.settlement.conftest import PREVIOUS

runner = CliRunner()
MONTH = PREVIOUS.strftime("%Y-%m")

SEED = """
INSERT INTO municipality (id, code, name, require_staff_totp, created_at)
    VALUES (1, '0751', 'Aarhus Kommune', 0, '2020-01-01 00:00:00'),
           (2, '0461', 'Odense Kommune', 0, '2020-01-01 00:00:00');
INSERT INTO app_user (id, email, full_name, role, municipality_id, is_active, totp_enabled,
    failed_login_count, created_at) VALUES
    (1, 'admin@aarhus.dk', 'Anna Admin', 'municipal_admin', 1, 1, 0, 0, '2020-01-01 00:00:00'),
    (2, 'borger@example.dk', 'Karen Jensen', 'citizen', 1, 1, 0, 0, '2020-01-01 00:00:00'),
    (3, 'admin@odense.dk', 'Ole Admin', 'municipal_admin', 2, 1, 0, 0, '2020-01-01 00:00:00');
INSERT INTO provider (id, name, cvr, address, postal_code, city, contact_name, contact_email,
    contact_phone, created_at) VALUES (1, 'Det Gode Køkken ApS', '10000009', 'Vej 1', '8000',
    'Aarhus C', 'K', 'k@x.dk', '+4511223344', '2020-01-01 00:00:00');
INSERT INTO approval (id, provider_id, municipality_id, service, application_id, standard_id,
    status, valid_from, valid_to, daily_capacity, approved_by_user_id, created_at)
    VALUES (1, 1, 1, 'madservice', 1, 1, 'active', '2020-01-01', '2099-12-31', 100, 1,
    '2020-01-01 00:00:00');
INSERT INTO contract_terms (id, approval_id, version, unit_price_ore, valid_from,
    citizen_absent_share_bp, created_by_user_id, created_at)
    VALUES (1, 1, 1, 8500, '2020-01-01', 7500, 1, '2020-01-01 00:00:00');
INSERT INTO citizen (id, municipality_id, user_id, full_name, cpr_encrypted, cpr_hash,
    birth_date, address, postal_code, language, diet_form, diet_notes, allergies, created_at)
    VALUES (1, 1, 2, 'Karen Jensen', 'x', 'h', '1945-01-01', 'Vej 1', '8000', 'da', 'normal',
    '', '[]', '2020-01-01 00:00:00');
INSERT INTO voucher_grant (id, municipality_id, citizen_id, service, units_per_week,
    diet_form, allergies, valid_from, valid_to, copayment_ore, rollover, status, created_at)
    VALUES (1, 1, 1, 'main_meal', 7, 'normal', '[]', '2020-01-01', '2099-12-31', 6000, 0,
    'active', '2020-01-01 00:00:00');
INSERT INTO offer (id, provider_id, service, name, description, diet_forms, allergens, weekdays,
    active, created_at) VALUES (1, 1, 'madservice', 'Frikadeller', '', '[]', '[]',
    '1,2,3,4,5,6,7', 1, '2020-01-01 00:00:00');
"""


def order_sql(n: int, status: str, reason: str | None, delivered: bool) -> str:
    day = PREVIOUS + timedelta(days=n % 28)
    reason_sql = f"'{reason}'" if reason else "NULL"
    delivered_sql = f"'{day} 10:30:00.000000'" if delivered else "NULL"
    return (
        "INSERT INTO service_order (municipality_id, citizen_id, grant_id, provider_id, "
        "approval_id, offer_id, delivery_on, units, unit_price_ore, copayment_ore, status, "
        "failure_reason, cutoff_at, accept_by_at, window_end_at, delivered_at, "
        "idempotency_key, placed_by_user_id, placed_at) VALUES "
        f"(1, 1, 1, 1, 1, 1, '{day}', 1, 8500, 6000, '{status}', {reason_sql}, "
        f"'{day} 08:00:00.000000', '{day} 09:00:00.000000', '{day} 11:00:00.000000', "
        f"{delivered_sql}, 'cli:{n}', 2, '2020-01-01 00:00:00.000000');"
    )


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    path = tmp_path / "cli.db"
    url = f"sqlite+aiosqlite:///{path}"
    monkeypatch.setenv("MARKET_DATABASE_URL", url)
    from market.config import get_settings

    get_settings.cache_clear()
    upgrade(url)
    orders = [order_sql(n, "delivered", None, True) for n in range(20)]
    orders += [order_sql(100 + n, "failed", "citizen_absent", False) for n in range(2)]
    with sqlite3.connect(path) as db:
        db.executescript(SEED + "\n".join(orders))
    yield path
    get_settings.cache_clear()


def test_settle_prints_each_statement_and_stores_the_drafts(cli_db):
    result = runner.invoke(
        app, ["settle", "--municipality", "0751", "--month", MONTH, "--as", "admin@aarhus.dk"]
    )
    assert result.exit_code == 0, result.output
    # 20 × 85.00 + 2 × 63.75 = 1,827.50 kr.
    assert "Det Gode Køkken ApS" in result.output and "1.827,50 kr." in result.output
    assert f"1 statement for {MONTH}, total " in result.output
    with sqlite3.connect(cli_db) as db:
        rows = db.execute(
            "SELECT status, total_ore, delivered, citizen_absent FROM settlement_statement"
        ).fetchall()
        linked = db.execute("SELECT count(*) FROM settlement_line_order").fetchone()[0]
    assert rows == [("draft", 182_750, 20, 2)] and linked == 22
    again = runner.invoke(
        app, ["settle", "--municipality", "0751", "--month", MONTH, "--as", "admin@aarhus.dk"]
    )
    assert again.exit_code == 0 and "1.827,50 kr." in again.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--municipality", "9999", "--month", MONTH, "--as", "admin@aarhus.dk"], "9999"),
        (["--municipality", "0751", "--month", MONTH, "--as", "nobody@aarhus.dk"], "nobody"),
        (["--municipality", "0751", "--month", MONTH, "--as", "admin@odense.dk"], "does not work"),
        (
            ["--municipality", "0751", "--month", "oktober", "--as", "admin@aarhus.dk"],
            "not a month",
        ),
        (["--municipality", "0751", "--month", "2099-01", "--as", "admin@aarhus.dk"], "not ended"),
        (["--municipality", "0751", "--month", MONTH, "--as", "borger@example.dk"], "staff"),
    ],
)
def test_settle_refuses_what_it_cannot_do_and_writes_nothing(cli_db, arguments, message):
    result = runner.invoke(app, ["settle", *arguments])
    assert result.exit_code == 2
    assert message in result.output
    with sqlite3.connect(cli_db) as db:
        assert db.execute("SELECT count(*) FROM settlement_statement").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM settlement_run").fetchone()[0] == 0
