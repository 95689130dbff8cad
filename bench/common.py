"""What every benchmark shares: a throwaway database on SQLite or PostgreSQL,
peak memory, a markdown table and a JSON file under bench/results/."""

import asyncio
import json
import os
import platform
import resource
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from market.migrations import upgrade

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PG_ADMIN_URL = os.environ.get(
    "MARKET_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
SECRET = "bench-secret-key-that-is-long-enough-0123456789"


@dataclass(frozen=True)
class Database:
    """A migrated throwaway database: its SQLAlchemy URL, its backend, and for
    SQLite the file's path."""

    url: str
    backend: str
    path: Path | None = None


async def _pg_admin(sql: str) -> None:
    conn = await pg_connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def throwaway_database(backend: str) -> Iterator[Database]:
    """A fresh database built by the real Alembic migrations, dropped afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bench.db"
            url = f"sqlite+aiosqlite:///{path}"
            upgrade(url)
            yield Database(url, backend, path)
        return
    if backend != "postgresql":
        raise SystemExit(f"Unknown database {backend!r}: use sqlite or postgresql.")
    name = f"market_bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield Database(url, backend)
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def pg_connect(url: str) -> Any:
    """A raw asyncpg connection to the database behind a SQLAlchemy URL."""
    import asyncpg

    parsed = make_url(url)
    return await asyncpg.connect(
        host=parsed.host, port=parsed.port or 5432, user=parsed.username, database=parsed.database
    )


# The tables the benchmarks bulk-load with explicit ids.
BULK_LOADED = ("municipality", "app_user", "citizen", "voucher_grant", "quality_standard",
               "provider", "provider_application", "approval", "offer")  # fmt: skip


async def move_sequences_past_loaded_rows(conn: Any, tables: Sequence[str] = BULK_LOADED) -> None:
    """Rows bulk-loaded with explicit ids leave their id sequences behind; the
    app's own inserts after the load must not collide with them."""
    for table in tables:
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
        )


def peak_rss_mb() -> float:
    """The process's peak resident memory so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Timer:
    """Wall time of a block: ``with Timer() as t: ...; t.seconds``."""

    seconds: float = 0.0

    def __enter__(self) -> "Timer":
        self._started = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self._started


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_results(name: str, payload: dict[str, Any], results_dir: Path | None = None) -> Path:
    """Writes ``payload`` with when, where and which commit to
    ``<results_dir>/<name>-<timestamp>.json``; returns the path."""
    now = datetime.now(UTC)
    directory = results_dir or RESULTS
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}-{now:%Y%m%dT%H%M%SZ}.json"
    document = {
        "benchmark": name,
        "at": now.isoformat(timespec="seconds"),
        "commit": _git_commit(),
        "host": {
            "cpus": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
        },
        **payload,
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path
