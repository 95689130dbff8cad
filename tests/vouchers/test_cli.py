"""`market vouchers verify` against a real, migrated SQLite file."""

import sqlite3

import pytest
from typer.testing import CliRunner

from market.cli import app
from market.migrations import upgrade

runner = CliRunner()

SEED = """
INSERT INTO municipality (id, code, name, require_staff_totp, created_at)
    VALUES (1, '0751', 'Aarhus', 0, '2026-01-01 00:00:00');
INSERT INTO app_user (id, email, full_name, role, municipality_id, is_active, totp_enabled,
    failed_login_count, created_at)
    VALUES (1, 'b@x.dk', 'B', 'citizen', 1, 1, 0, 0, '2026-01-01 00:00:00');
INSERT INTO citizen (id, municipality_id, user_id, full_name, cpr_encrypted, cpr_hash,
    birth_date, address, postal_code, language, diet_form, diet_notes, allergies, created_at)
    VALUES (1, 1, 1, 'B', 'x', 'h', '1945-01-01', 'Vej 1', '8000', 'da', 'normal', '', '[]',
    '2026-01-01 00:00:00');
INSERT INTO voucher_grant (id, municipality_id, citizen_id, service, units_per_week,
    diet_form, allergies, valid_from, valid_to, copayment_ore, rollover, status, created_at)
    VALUES (1, 1, 1, 'main_meal', 7, 'normal', '[]', '2026-01-05', '2026-01-11', 6000, 0,
    'active', '2026-01-01 00:00:00');
INSERT INTO voucher_account (id, grant_id, kind, iso_week, balance)
    VALUES (1, 1, 'granted', '', 7), (2, 1, 'available', '2026-W02', 0);
INSERT INTO ledger_transfer (idempotency_key, grant_id, from_account_id, to_account_id,
    units, reason, created_at) VALUES ('issue:1', 1, NULL, 1, 7, 'issue', '2026-01-01');
"""


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


def test_vouchers_verify_passes_and_then_names_a_tampered_account(cli_db):
    empty = runner.invoke(app, ["vouchers", "verify"])
    assert empty.exit_code == 0, empty.output
    assert "The voucher ledger balances." in empty.output

    db = sqlite3.connect(cli_db)
    db.executescript(SEED)
    db.commit()
    ok = runner.invoke(app, ["vouchers", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "1 grants, 2 accounts, 1 transfers checked." in ok.output

    db.execute("UPDATE voucher_account SET balance = 3 WHERE id = 2")
    db.commit()
    db.close()
    broken = runner.invoke(app, ["vouchers", "verify"])
    assert broken.exit_code == 1
    assert "account 2 (available 2026-W02) of grant 1 has balance 3" in broken.output
    assert "grant 1: 7 units were issued" in broken.output
