"""Catalogue: seeds a municipality where 10, 100 and 500 providers deliver to
one citizen (approved, contract terms, an offer for every weekday), signs in
as the citizen and requests the day's catalogue page (/order/<day>, the first
page of kitchens) and its second page (/order/<day>?side=2, "Vis flere")
through the ASGI app in-process: p50/p95 time per request and the HTML size.

    .venv/bin/python -m bench.catalogue [--db sqlite|postgresql]
        [--providers 10,100,500] [--requests 50]

Prints a markdown table and writes bench/results/catalogue-<timestamp>.json.
"""

import argparse
import asyncio
import os
import re
import sqlite3
import statistics
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    SECRET,
    Database,
    markdown_table,
    move_sequences_past_loaded_rows,
    pg_connect,
    throwaway_database,
    write_results,
)
from bench.month_end import Load
from market.app import create_app
from market.auth.security import hash_password
from market.clock import today
from market.config import Settings

PASSWORD = "bench-citizen-password"
CITIZEN_EMAIL = "borger@example.dk"


def _extra_sql(providers: int) -> list[str]:
    """What the month-end's rows lack for a catalogue: delivery to the citizen's
    postal code, offers with a diet form and allergens, and the citizen's password."""
    rows = [
        f"INSERT INTO approval_postal_code (approval_id, postal_code) VALUES ({p}, '8000')"
        for p in range(1, providers + 1)
    ]
    rows.append(
        'UPDATE offer SET diet_forms = \'["normal", "soft"]\', allergens = \'["milk"]\', '
        "name = 'Frikadeller med kartofler', "
        "description = 'Hjemmelavede frikadeller, kartofler og brun sovs'"
    )
    rows.append(f"UPDATE app_user SET password_hash = '{hash_password(PASSWORD)}' WHERE id = 2")
    return rows


def seed(db: Database, providers: int) -> None:
    load = Load(orders=0, providers=providers, month_on=today())
    statements = [load.base_sql(), *_extra_sql(providers)]
    if db.path is not None:
        conn = sqlite3.connect(db.path)
        for sql in statements:
            conn.executescript(sql)
        conn.commit()
        conn.close()
    else:
        asyncio.run(_seed_postgresql(db.url, statements))


async def _seed_postgresql(url: str, statements: list[str]) -> None:
    conn = await pg_connect(url)
    try:
        for sql in statements:
            await conn.execute(sql)
        await move_sequences_past_loaded_rows(conn)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def measure(db: Database, requests: int) -> dict[str, Any]:
    """Signs in and requests the catalogue ``requests`` times (after two warm-ups)."""
    settings = Settings(database_url=db.url, secret_key=SECRET, default_language="da")
    app = create_app(settings)
    day = today() + timedelta(days=3)  # after every default cut-off
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            await client.get("/login")
            signed_in = await client.post(
                "/login",
                data={
                    "email": CITIZEN_EMAIL,
                    "password": PASSWORD,
                    "next": "/",
                    "csrf_token": client.cookies.get("market_csrf", ""),
                },
            )
            if signed_in.status_code != 303:
                raise SystemExit(f"Could not sign in as the citizen ({signed_in.status_code}).")
            url = f"/order/{day.isoformat()}"
            first = await _timed(client, url, requests)
            second = await _timed(client, f"{url}?side=2", requests)
    finally:
        engine = getattr(app.state, "engine", None)
        if engine is not None:
            await engine.dispose()
    return {**first, "page2": second}


async def _timed(client: httpx.AsyncClient, url: str, requests: int) -> dict[str, Any]:
    """``requests`` timed GETs of ``url`` after two warm-ups."""
    for _ in range(2):
        await client.get(url)
    times: list[float] = []
    cpu: list[float] = []
    page = ""
    for _ in range(requests):
        started, cpu_started = time.perf_counter(), time.process_time()
        response = await client.get(url)
        times.append(time.perf_counter() - started)
        # CPU of this process (app, client and SQLite; not a PostgreSQL server):
        # less disturbed than the wall time when other work shares the cores.
        cpu.append(time.process_time() - cpu_started)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}.")
        page = response.text
    times.sort()
    return {
        "p50_ms": round(statistics.median(times) * 1000, 1),
        "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)] * 1000, 1),
        "max_ms": round(times[-1] * 1000, 1),
        "cpu_p50_ms": round(statistics.median(cpu) * 1000, 1),
        "html_kb": round(len(page.encode()) / 1024, 1),
        "providers_shown": len(set(re.findall(r"Køkken (\d+) ApS", page))),
        "requests": requests,
    }


def run(
    backend: str, provider_counts: list[int], requests: int, results_dir: Path | None = None
) -> Path:
    """Runs the benchmark; prints the table and returns the JSON file's path."""
    rows: list[dict[str, Any]] = []
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    for providers in provider_counts:
        with throwaway_database(backend) as db:
            seed(db, providers)
            rows.append({"providers": providers, **asyncio.run(measure(db, requests))})
    print(
        markdown_table(
            (
                "providers delivering",
                "shown on the page",
                "p50",
                "p95",
                "CPU p50",
                "HTML",
                "page 2 p50",
                "page 2 p95",
                "page 2 HTML",
            ),  # fmt: skip
            [
                (
                    r["providers"],
                    r["providers_shown"],
                    f"{r['p50_ms']:.0f} ms",
                    f"{r['p95_ms']:.0f} ms",
                    f"{r['cpu_p50_ms']:.0f} ms",
                    f"{r['html_kb']:.0f} KB",
                    f"{r['page2']['p50_ms']:.0f} ms",
                    f"{r['page2']['p95_ms']:.0f} ms",
                    f"{r['page2']['html_kb']:.0f} KB",
                )  # fmt: skip
                for r in rows
            ],
        )
    )
    path = write_results(
        "catalogue",
        {
            "database": backend,
            "transport": "ASGI in-process (httpx)",
            "load_average": os.getloadavg(),
            "runs": rows,
        },
        results_dir,
    )
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(f"\nwritten to {path}")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--providers", default="10,100,500")
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.providers.split(",") if n.strip()]
    run(args.db, counts, args.requests)


if __name__ == "__main__":
    main()
