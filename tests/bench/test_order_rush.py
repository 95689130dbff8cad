"""The order-rush benchmark at a tiny scale, so it cannot rot: seeds, serves
with gunicorn, places orders from a load process, verifies, replays one
placement with pgbench, and writes JSON whose counts add up. Speed is printed
by the command, never asserted here. PostgreSQL only (pgbench, the server's
statement log): the SQLite suite deselects it (tests/bench/conftest.py)."""

import json
from pathlib import Path

import pytest

from bench import order_rush

POSTGRESQL_ONLY = True


def test_order_rush_places_verifies_and_replays_with_pgbench(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    order_rush.run(
        citizens=300,
        providers=3,
        connections=4,
        duration=2,
        rates=[10],
        load_processes=1,
        results_dir=tmp_path,
    )
    (path,) = tmp_path.glob("order_rush-*.json")
    result = json.loads(path.read_text(encoding="utf-8"))
    assert [p["phase"] for p in result["phases"]] == ["livez", "warm-up", "saturation", "rate-10"]
    saturation = result["phases"][2]
    assert saturation["ok"] > 0 and saturation["errors"] == {}
    assert 0 < saturation["p50_ms"] <= saturation["p95_ms"] <= saturation["p99_ms"]
    assert sum(saturation["worker_cpu_seconds"]) > 0
    # Every order answered 201 is in the database, and each reserved one unit.
    assert result["orders_answered_201"] > 0
    assert result["orders_match"] and result["units_match"]
    assert result["counts"]["orders"] == result["counts"]["units_reserved"]
    assert result["counts"]["audit_events"] == result["counts"]["orders"]
    assert result["verify"]["vouchers"]["ok"] and result["verify"]["audit"]["ok"]
    # pgbench replayed the captured placement without a failed transaction.
    pgbench = result["pgbench"]
    assert pgbench["transactions"] > 0 and pgbench["failed"] == 0
    assert "FOR UPDATE" in pgbench["script"] and "pg_advisory_xact_lock" in pgbench["script"]
    assert result["app_to_pgbench"] == pytest.approx(
        result["app_orders_per_second"] / pgbench["tps"], abs=0.001
    )
    out = capsys.readouterr().out
    assert "| saturation |" in out and "| app ÷ pgbench |" in out
