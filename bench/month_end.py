"""Month-end: bulk-loads a month of orders in every end state over many
providers, settles it with the real ``run_month`` (first run and re-run), and
compares the wall time with one raw SQL aggregation over the same rows.

    .venv/bin/python -m bench.month_end [--db sqlite|postgresql] [--orders 1000000]
        [--providers 200]

Prints a markdown table and writes bench/results/month_end-<timestamp>.json.
"""

import argparse
import asyncio
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from bench.common import (
    SECRET,
    Database,
    Timer,
    markdown_table,
    move_sequences_past_loaded_rows,
    peak_rss_mb,
    pg_connect,
    throwaway_database,
    write_results,
)
from market.admin_tasks import unit_of_work
from market.auth.models import Role
from market.auth.permissions import Actor
from market.clock import today
from market.config import Settings
from market.settlement import service

UNIT_PRICE_ORE = 8500  # a real madservice price: 85 kr. a meal
COPAYMENT_ORE = 6000
CHUNK = 50_000

# Every end state, as a share of 100 consecutive orders (so counts are exact):
# (status, failure reason, delivered on time?, billable?)
MIX: list[tuple[int, str, str | None, bool | None, bool]] = [
    (80, "delivered", None, True, True),  # delivered on time
    (8, "delivered", None, False, True),  # delivered late
    (2, "failed", "not_delivered", None, False),
    (1, "failed", "too_late", None, False),
    (1, "failed", "wrong_meal", None, False),
    (2, "failed", "citizen_absent", None, True),
    (2, "late_cancelled", None, None, True),
    (4, "cancelled", None, None, False),
]
PATTERN = [(s, r, t, b) for share, s, r, t, b in MIX for _ in range(share)]
assert len(PATTERN) == 100

BASE = """
INSERT INTO municipality (id, code, name, require_staff_totp, created_at)
    VALUES (1, '0751', 'Aarhus Kommune', FALSE, '2020-01-01 00:00:00');
INSERT INTO app_user (id, email, full_name, role, municipality_id, is_active, totp_enabled,
    failed_login_count, created_at) VALUES
    (1, 'admin@aarhus.dk', 'Anna Admin', 'municipal_admin', 1, TRUE, FALSE, 0,
     '2020-01-01 00:00:00'),
    (2, 'borger@example.dk', 'Karen Jensen', 'citizen', 1, TRUE, FALSE, 0, '2020-01-01 00:00:00');
INSERT INTO citizen (id, municipality_id, user_id, full_name, cpr_encrypted, cpr_hash,
    birth_date, address, postal_code, language, diet_form, diet_notes, allergies, created_at)
    VALUES (1, 1, 2, 'Karen Jensen', 'x', 'h', '1945-01-01', 'Vej 1', '8000', 'da', 'normal',
    '', '[]', '2020-01-01 00:00:00');
INSERT INTO voucher_grant (id, municipality_id, citizen_id, service, units_per_week,
    diet_form, allergies, valid_from, valid_to, copayment_ore, rollover, status, created_at)
    VALUES (1, 1, 1, 'main_meal', 7, 'normal', '[]', '2020-01-01', '2099-12-31', 6000, FALSE,
    'active', '2020-01-01 00:00:00');
INSERT INTO quality_standard (id, municipality_id, service, version, title, status, created_at)
    VALUES (1, 1, 'madservice', 1, 'Kvalitetsstandard', 'published', '2020-01-01 00:00:00');
"""

PROVIDER_ROWS = [
    "INSERT INTO provider (id, name, cvr, address, postal_code, city, contact_name, "
    "contact_email, contact_phone, created_at) VALUES ({p}, 'Køkken {p} ApS', '{cvr}', "
    "'Vej 1', '8000', 'Aarhus C', 'K', 'k@x.dk', '+4511223344', '2020-01-01 00:00:00');",
    "INSERT INTO provider_application (id, provider_id, municipality_id, standard_id, status, "
    "created_by_user_id, created_at) VALUES ({p}, {p}, 1, 1, 'approved', 1, "
    "'2020-01-01 00:00:00');",
    "INSERT INTO approval (id, provider_id, municipality_id, service, application_id, "
    "standard_id, status, valid_from, valid_to, daily_capacity, approved_by_user_id, "
    "created_at) VALUES ({p}, {p}, 1, 'madservice', {p}, 1, 'active', '2020-01-01', "
    "'2099-12-31', 100000, 1, '2020-01-01 00:00:00');",
    # a volume guarantee, a rebate above a threshold, an SLA malus/bonus and shares
    # for absent citizens and late cancellations: every kind of statement line
    "INSERT INTO contract_terms (approval_id, version, unit_price_ore, valid_from, "
    "min_units_per_month, shortfall_rate_bp, rebate_threshold_units, rebate_bp, "
    "on_time_target_bp, malus_bp_per_point, malus_cap_bp, bonus_threshold_bp, bonus_bp, "
    "citizen_absent_share_bp, late_cancel_share_bp, created_by_user_id, created_at) "
    "VALUES ({p}, 1, 8500, '2020-01-01', {minimum}, 5000, {threshold}, 500, 9500, 100, 500, "
    "9800, 200, 7500, 5000, 1, '2020-01-01 00:00:00');",
    "INSERT INTO offer (id, provider_id, service, name, description, diet_forms, allergens, "
    "weekdays, active, created_at) VALUES ({p}, {p}, 'madservice', 'Ret', '', '[]', '[]', "
    "'1,2,3,4,5,6,7', TRUE, '2020-01-01 00:00:00');",
]

ORDER_COLUMNS = [
    "municipality_id",
    "citizen_id",
    "grant_id",
    "provider_id",
    "approval_id",
    "offer_id",
    "delivery_on",
    "units",
    "unit_price_ore",
    "copayment_ore",
    "status",
    "failure_reason",
    "cutoff_at",
    "accept_by_at",
    "window_end_at",
    "delivered_at",
    "idempotency_key",
    "placed_by_user_id",
    "placed_at",
]

RAW_AGGREGATION = """
SELECT approval_id, status, failure_reason,
       CASE WHEN delivered_at IS NOT NULL AND delivered_at <= window_end_at THEN 1 ELSE 0 END,
       count(*), sum(units)
FROM service_order
WHERE municipality_id = 1 AND delivery_on >= {first} AND delivery_on <= {last}
GROUP BY 1, 2, 3, 4
"""

RAW_LINKS = """
INSERT INTO bench_links (line_id, order_id)
SELECT approval_id, id FROM service_order
WHERE municipality_id = 1 AND delivery_on >= {first} AND delivery_on <= {last}
  AND (status IN ('delivered', 'late_cancelled')
       OR (status = 'failed' AND failure_reason IS NOT NULL))
"""

# The same links written into the real link table, with its keys and foreign
# keys (which the settlement cannot skip), one line per approval: timed inside a
# transaction that first empties the table and is rolled back.
RAW_LINKS_REAL_TABLE = """
WITH one_line AS (
    SELECT s.approval_id, min(l.id) AS line_id
    FROM settlement_statement_line l JOIN settlement_statement s ON s.id = l.statement_id
    WHERE s.month_on = {first}
    GROUP BY s.approval_id
)
INSERT INTO settlement_line_order (line_id, order_id)
SELECT one_line.line_id, o.id FROM service_order o
JOIN one_line ON one_line.approval_id = o.approval_id
WHERE o.municipality_id = 1 AND o.delivery_on >= {first} AND o.delivery_on <= {last}
  AND (o.status IN ('delivered', 'late_cancelled')
       OR (o.status = 'failed' AND o.failure_reason IS NOT NULL))
"""

LINKED_BILLABLE = """
SELECT count(DISTINCT l.order_id) FROM settlement_line_order l
JOIN service_order o ON o.id = l.order_id
WHERE o.status IN ('delivered', 'late_cancelled')
   OR (o.status = 'failed' AND o.failure_reason = 'citizen_absent')
"""


@dataclass(frozen=True)
class Load:
    orders: int
    providers: int
    month_on: date

    @property
    def last(self) -> date:
        return service.last_of_month(self.month_on)

    @property
    def billable(self) -> int:
        full, rest = divmod(self.orders, 100)
        return full * sum(1 for *_, b in PATTERN if b) + sum(1 for *_, b in PATTERN[:rest] if b)

    def base_sql(self) -> str:
        per_provider = self.orders // self.providers
        rows = [
            line.format(
                p=p,
                cvr=f"{10000000 + p:08d}",
                minimum=per_provider // 2,
                threshold=max(1, per_provider * 3 // 4),
            )
            for p in range(1, self.providers + 1)
            for line in PROVIDER_ROWS
        ]
        return BASE + "\n".join(rows)

    def orders_of(self, stamp: Any) -> Iterator[tuple[Any, ...]]:
        """The orders as rows of ORDER_COLUMNS; ``stamp(day, hh, mm)`` renders a
        timestamp and days are rendered by ``stamp(day)``."""
        days = (self.last - self.month_on).days + 1
        placed = stamp(self.month_on - timedelta(days=7), 8, 0)
        for n in range(self.orders):
            p = n % self.providers + 1
            day = self.month_on + timedelta(days=(n // self.providers) % days)
            status, reason, on_time, _ = PATTERN[n % 100]
            delivered_at = None
            if on_time is not None:
                delivered_at = stamp(day, 10, 30) if on_time else stamp(day, 11, 30)
            yield (
                1, 1, 1, p, p, p, stamp(day), 1, UNIT_PRICE_ORE, COPAYMENT_ORE, status, reason,
                stamp(day, 8, 0), stamp(day, 9, 0), stamp(day, 11, 0), delivered_at,
                f"bench:{n}", 2, placed,
            )  # fmt: skip


def _sqlite_stamp(day: date, hh: int | None = None, mm: int = 0) -> str:
    return str(day) if hh is None else f"{day} {hh:02d}:{mm:02d}:00.000000"


def _pg_stamp(day: date, hh: int | None = None, mm: int = 0) -> date | datetime:
    return day if hh is None else datetime.combine(day, time(hh, mm), tzinfo=UTC)


def _chunks(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def seed_sqlite(path: Path, load: Load) -> None:
    db = sqlite3.connect(path)
    db.executescript(load.base_sql())
    insert = (
        f"INSERT INTO service_order ({', '.join(ORDER_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(ORDER_COLUMNS))})"
    )
    for chunk in _chunks(load.orders_of(_sqlite_stamp)):
        db.executemany(insert, chunk)
    db.commit()
    db.execute("ANALYZE")
    db.close()


async def seed_postgresql(url: str, load: Load) -> None:
    conn = await pg_connect(url)
    try:
        await conn.execute(load.base_sql())
        for chunk in _chunks(load.orders_of(_pg_stamp)):
            await conn.copy_records_to_table("service_order", records=chunk, columns=ORDER_COLUMNS)
        await move_sequences_past_loaded_rows(conn)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


@dataclass(frozen=True)
class Raw:
    """The raw SQL references, in seconds, and the billable orders the settlement linked."""

    aggregation: float
    links: float  # into a bare temporary table
    links_real_table: float  # into settlement_line_order, keys and foreign keys included
    linked: int


def raw_sqlite(path: Path, load: Load) -> Raw:
    db = sqlite3.connect(path)
    db.execute("PRAGMA foreign_keys = ON")  # as the app's connections
    bounds = {"first": f"'{load.month_on}'", "last": f"'{load.last}'"}
    with Timer() as aggregation:
        db.execute(RAW_AGGREGATION.format(**bounds)).fetchall()
    db.execute("CREATE TEMP TABLE bench_links (line_id INTEGER, order_id INTEGER)")
    with Timer() as links:
        db.execute(RAW_LINKS.format(**bounds))
    linked = db.execute(LINKED_BILLABLE).fetchone()[0]
    db.execute("DELETE FROM settlement_line_order")
    with Timer() as real_table:
        db.execute(RAW_LINKS_REAL_TABLE.format(**bounds))
    db.rollback()
    db.close()
    return Raw(aggregation.seconds, links.seconds, real_table.seconds, linked)


async def raw_postgresql(url: str, load: Load) -> Raw:
    conn = await pg_connect(url)
    bounds = {"first": f"DATE '{load.month_on}'", "last": f"DATE '{load.last}'"}
    try:
        with Timer() as aggregation:
            await conn.fetch(RAW_AGGREGATION.format(**bounds))
        await conn.execute("CREATE TEMP TABLE bench_links (line_id integer, order_id integer)")
        with Timer() as links:
            await conn.execute(RAW_LINKS.format(**bounds))
        linked = await conn.fetchval(LINKED_BILLABLE)
        async with conn.transaction():
            await conn.execute("DELETE FROM settlement_line_order")
            with Timer() as real_table:
                await conn.execute(RAW_LINKS_REAL_TABLE.format(**bounds))
            raise _RollBack
    except _RollBack:
        pass
    finally:
        await conn.close()
    return Raw(aggregation.seconds, links.seconds, real_table.seconds, linked)


class _RollBack(Exception):
    """Leaves the real-table reference's transaction without keeping its rows."""


async def settle(settings: Settings, month_on: date) -> tuple[int, int]:
    actor = Actor(user_id=1, role=Role.MUNICIPAL_ADMIN, full_name="Anna Admin", municipality_id=1)
    async with unit_of_work(settings) as session:
        run = await service.run_month(session, actor=actor, month_on=month_on)
        return run.statements, run.total_ore


def run(backend: str, orders: int, providers: int, results_dir: Path | None = None) -> Path:
    """Runs the benchmark; prints the table and returns the JSON file's path."""
    month_on = service.first_of_month(service.first_of_month(today()) - timedelta(days=1))
    load = Load(orders, providers, month_on)
    with throwaway_database(backend) as db:
        figures = _measure(db, load)
    rows = [
        ("database", backend),
        ("orders", f"{orders:,}"),
        ("providers", providers),
        ("billable orders", f"{load.billable:,}"),
        ("bulk load", f"{figures['seed_seconds']:.1f} s"),
        ("settlement, first run", f"{figures['settle_seconds']:.2f} s"),
        ("settlement, re-run (drafts replaced)", f"{figures['rerun_seconds']:.2f} s"),
        ("statements", figures["statements"]),
        ("total", f"{figures['total_ore'] / 100:,.2f} kr."),
        ("peak RSS after loading", f"{figures['peak_rss_after_load_mb']:.0f} MB"),
        ("peak RSS after settling (twice)", f"{figures['peak_rss_mb']:.0f} MB"),
        ("raw aggregation (count per approval × outcome)", f"{figures['raw_seconds']:.2f} s"),
        ("raw link write (INSERT … SELECT)", f"{figures['raw_links_seconds']:.2f} s"),
        (
            "raw link write into the real link table (keys, foreign keys)",
            f"{figures['raw_links_real_table_seconds']:.2f} s",
        ),
        ("settlement ÷ raw aggregation", f"{figures['ratio_to_raw']:.1f}×"),
        ("settlement ÷ (raw aggregation + link write)", f"{figures['ratio_to_reference']:.1f}×"),
        (
            "settlement ÷ (raw aggregation + link write into the real table)",
            f"{figures['ratio_to_real_table_reference']:.1f}×",
        ),
        ("billable orders behind statement lines", f"{figures['linked_billable']:,}"),
    ]
    print(markdown_table(("month-end", "value"), rows))
    path = write_results(
        "month_end",
        {
            "database": backend,
            "orders": orders,
            "providers": providers,
            "billable_orders": load.billable,
            "month": str(month_on),
            **figures,
        },  # fmt: skip
        results_dir,
    )
    print(f"\nwritten to {path}")
    return path


def _measure(db: Database, load: Load) -> dict[str, Any]:
    with Timer() as seeding:
        if db.path is not None:
            seed_sqlite(db.path, load)
        else:
            asyncio.run(seed_postgresql(db.url, load))
    print(f"loaded {load.orders:,} orders in {seeding.seconds:.1f} s", file=sys.stderr)
    rss_after_load = peak_rss_mb()
    settings = Settings(database_url=db.url, secret_key=SECRET)
    with Timer() as first:
        statements, total = asyncio.run(settle(settings, load.month_on))
    with Timer() as again:
        statements_again, total_again = asyncio.run(settle(settings, load.month_on))
    assert (statements, total) == (statements_again, total_again), "a re-run changed the month"
    raw = (
        raw_sqlite(db.path, load)
        if db.path is not None
        else asyncio.run(raw_postgresql(db.url, load))
    )
    return {
        "seed_seconds": round(seeding.seconds, 3),
        "settle_seconds": round(first.seconds, 3),
        "rerun_seconds": round(again.seconds, 3),
        "statements": statements,
        "total_ore": total,
        "peak_rss_after_load_mb": round(rss_after_load, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "raw_seconds": round(raw.aggregation, 6),
        "raw_links_seconds": round(raw.links, 6),
        "raw_links_real_table_seconds": round(raw.links_real_table, 6),
        "ratio_to_raw": round(first.seconds / raw.aggregation, 2),
        "ratio_to_reference": round(first.seconds / (raw.aggregation + raw.links), 2),
        "ratio_to_real_table_reference": round(
            first.seconds / (raw.aggregation + raw.links_real_table), 2
        ),
        "linked_billable": raw.linked,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--providers", type=int, default=200)
    args = parser.parse_args(argv)
    run(args.db, args.orders, args.providers)


if __name__ == "__main__":
    main()
