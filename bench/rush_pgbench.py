"""The physical limit: the exact statements one order placement sends, captured
from PostgreSQL's own statement log, replayed by pgbench.

Why the server's log: it records what the database really receives, in order,
with the parameters as the server read them, including what no ORM event sees
(the pool's pre-ping ``BEGIN; ROLLBACK``, the driver's ``BEGIN`` and ``COMMIT``).
What the log lacks is each statement's result, and later statements use results
(an account id returned by an INSERT, the audit head's sequence number and hash):
those come from a SQLAlchemy ``after_cursor_execute`` hook on the same request,
matched to the log statement by statement by their SQL text.

The capture runs on a database of its own (seeded like the region, the app
in-process with the production settings, so exactly the code gunicorn runs):
there its ids can be made unmistakable (citizen 4,000,001, provider 5,000,001,
every id sequence moved past 1,000,000,000) without touching the benchmark's
database, whose ledger and audit chain are verified before pgbench writes to it.

The script then replays one placement per transaction against the benchmark's
database: every value that belongs to the citizen (ids, session, idempotency
key, the keys derived from it) becomes a pgbench variable of a citizen of its
own, every value an earlier statement returned becomes a ``\\gset`` variable, and
the advisory lock, the ``FOR UPDATE`` and the conditional updates stay as they
are. Each transaction orders for a citizen no other transaction uses, for a
week the app's rush did not touch, so the first-of-week path (the allotment)
runs, as it did for the rush's orders."""

import asyncio
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bench import rush_seed
from bench.common import pg_connect, throwaway_database
from vouchers.ledger.weeks import iso_week_of

CAPTURE_CITIZEN = 4_000_001  # the capture's citizen; 4,000,002 warms up
CAPTURE_PROVIDER = 5_000_001
SEQUENCE_BASE = 1_000_000_000  # ids made during the capture start here, a million apart
HEAD_SEQ = 1_999_000_000  # the audit chain head's sequence number during the capture
PGBENCH_TOKEN_BASE = 900_000_000  # pgbench's sessions: token_hash = (n + this)::text
# Debian's log_line_prefix '%m [%p] %q%u@%d ': time, zone, [pid], user@database.
LOG_PREFIX = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[(\d+)\] (?:(\S*)@(\S*) )?"
)
PARAMETER = re.compile(r"\$(\d+) = (NULL|'(?:[^']|'')*')")
PLACEHOLDER = re.compile(r"\$(\d+)\b")


@dataclass
class Statement:
    sql: str
    params: dict[int, str | None] = field(default_factory=dict)  # server's literal text
    simple: bool = False  # "statement:" (simple protocol: BEGIN, COMMIT, ROLLBACK)
    rows: list[dict[str, Any]] | None = None  # from the driver hook


def server_log(explicit: str | None) -> Path:
    """The PostgreSQL server's log: given, or Debian's default for the running major
    version (pg_ctlcluster sends the server's stderr there)."""
    if explicit:
        return Path(explicit)
    candidates = sorted(Path("/var/log/postgresql").glob("postgresql-*-main.log"))
    if not candidates:
        raise SystemExit(
            "Cannot find the PostgreSQL server log: pass --pg-log (or MARKET_BENCH_PG_LOG)."
        )
    return max(candidates, key=lambda p: p.stat().st_mtime)


def parse_log(text: str, database: str) -> list[Statement]:
    """The statements of ``database`` in a stretch of the server log, with their
    parameters. One connection must have sent them all."""
    entries: list[tuple[str, str]] = []  # (pid, message)
    for line in text.splitlines():
        match = LOG_PREFIX.match(line)
        if match:
            if match.group(3) not in (None, database):
                entries.append(("other", ""))
                continue
            entries.append((match.group(1), line[match.end() :]))
        elif entries and line.startswith("\t"):
            pid, message = entries[-1]
            entries[-1] = (pid, message + "\n" + line[1:])
    statements: list[Statement] = []
    pids: set[str] = set()
    for pid, message in entries:
        if message.startswith("LOG:  statement: "):
            statements.append(Statement(message[len("LOG:  statement: ") :].strip(), simple=True))
            pids.add(pid)
        elif message.startswith("LOG:  execute "):
            sql = message.split(": ", 2)[2] if message.count(": ") >= 2 else ""
            statements.append(Statement(sql.strip()))
            pids.add(pid)
        elif message.startswith("DETAIL:  parameters: ") and statements:
            body = message[len("DETAIL:  parameters: ") :]
            statements[-1].params = {
                int(m.group(1)): _unquote(m.group(2)) for m in PARAMETER.finditer(body)
            }
    if len(pids) != 1:
        raise SystemExit(f"Expected one connection's statements in the log, found {len(pids)}.")
    return statements


def _unquote(text: str) -> str | None:
    return None if text == "NULL" else text[1:-1].replace("''", "'")


def _literal(value: str) -> str:
    """A SQL string literal pgbench leaves alone: its parser takes ':name' for a
    variable even inside quotes, so colons are written as E'\\x3a'."""
    escaped = value.replace("\\", "\\\\").replace("'", "''")
    if ":" in escaped or "\\" in escaped:
        return "E'" + escaped.replace(":", "\\x3a") + "'"
    return "'" + escaped + "'"


class Templater:
    """Turns captured parameter values into SQL text for the pgbench script."""

    def __init__(self, exact: dict[str, str], produced: dict[str, str]) -> None:
        # value -> SQL (a pgbench variable or an expression of one); ``exact``
        # (the citizen's own values) wins over results.
        self.values = {**{k: f":{v}" for k, v in produced.items()}, **exact}
        tokens = sorted(self.values, key=len, reverse=True)
        self.pattern = re.compile(
            "|".join(f"(?<![0-9a-f]){re.escape(t)}(?![0-9a-f])" for t in tokens)
        )

    def render(self, value: str | None) -> str:
        if value is None:
            return "NULL"
        if value in self.values:
            return self.values[value]
        parts: list[str] = []
        at = 0
        for match in self.pattern.finditer(value):
            if match.start() > at:
                parts.append(_literal(value[at : match.start()]))
            parts.append(self.values[match.group(0)])
            at = match.end()
        if not parts:
            return _literal(value)
        if at < len(value):
            parts.append(_literal(value[at:]))
        # A typed first operand, or PostgreSQL cannot choose a || for unknown operands.
        if not parts[0].startswith(("'", "E'")):
            parts.insert(0, "''")
        parts[0] += "::text"
        return "(" + " || ".join(parts) + ")"


def _distinctive(value: Any) -> bool:
    """A result value that can only have come from this placement's own rows."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value >= SEQUENCE_BASE
    return isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value) is not None


def build_script(
    statements: list[Statement],
    *,
    exact: dict[str, str],
    clients: int,
    citizens: int,
) -> tuple[str, int]:
    """The pgbench script and how many round trips one transaction makes."""
    produced: dict[str, str] = {}
    gsets: dict[int, str] = {}  # statement index -> how to end it
    wrapped: dict[int, list[str]] = {}  # multi-row results: columns to aggregate
    for i, st in enumerate(statements):
        if not st.rows:
            continue
        # What later statements send and no earlier statement produced.
        later = " ".join(v for s in statements[i + 1 :] for v in s.params.values() if v)
        wanted = [
            (r, name, value)
            for r, row in enumerate(st.rows)
            for name, value in row.items()
            if _distinctive(value)
            and str(value) in later
            and str(value) not in exact
            and str(value) not in produced
        ]
        if not wanted:
            continue
        if len(st.rows) == 1:
            gsets[i] = f"r{i}_"
            for _, name, value in wanted:
                produced.setdefault(str(value), f"r{i}_{name}")
        else:
            if st.sql.lstrip().upper().startswith("WITH"):
                raise SystemExit(f"Cannot replay statement {i}: several rows from a CTE.")
            wrapped[i] = []
            for r, name, value in wanted:
                alias = f"r{i}_{r}_{name}"
                wrapped[i].append(f"(array_agg(_r.{name}))[{r + 1}] AS {alias}")
                produced.setdefault(str(value), alias)
    templater = Templater(exact, produced)
    lines = [
        f"-- One order placement as the app sent it; {clients} clients, a citizen each.",
        "\\set i :i + 1",
        f"\\set m :client_id + {clients} * (:i - 1)",
        "-- citizen n, in week w after the captured one: a (citizen, week) of its own",
        f"\\set n 1 + :m % {citizens}",
        f"\\set w :m / {citizens}",
        f"\\set u :n + {rush_seed.USER_OFFSET}",
        f"\\set tok :n + {PGBENCH_TOKEN_BASE}",
        "\\set p 1 + (:n % :providers)",
    ]
    for i, st in enumerate(statements):
        sql = _substitute(st, templater)
        sql = " ".join(sql.split())
        if sql.endswith(";"):
            sql = sql[:-1]
        if i in wrapped:
            lines.append(f"WITH _r AS ({sql}) SELECT {', '.join(wrapped[i])} FROM _r \\gset")
        elif i in gsets:
            lines.append(f"{sql} \\gset {gsets[i]}")
        else:
            lines.append(sql + ";")
    return "\n".join(lines) + "\n", len(statements)


def _substitute(st: Statement, templater: Templater) -> str:
    """The statement with each $n written as its literal or pgbench variable."""

    def one(match: re.Match[str]) -> str:
        return templater.render(st.params.get(int(match.group(1))))

    return PLACEHOLDER.sub(one, st.sql)


async def _capture_async(
    url: str, settings_env: dict[str, str], day: date, log: Path, providers_seeded: int
) -> list[Statement]:
    import httpx

    from market.app import create_app

    database = url.rsplit("/", 1)[1]
    admin = await pg_connect(url)
    await admin.execute(f"ALTER DATABASE \"{database}\" SET log_statement = 'all'")
    settings = rush_seed.settings_of(settings_env)
    app = create_app(settings)
    recorded: list[tuple[str, list[dict[str, Any]] | None]] = []

    def after(_conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        rows = getattr(cursor, "_rows", None)
        names = [d[0] for d in cursor.description] if cursor.description else []
        recorded.append(
            (statement, [dict(zip(names, r, strict=False)) for r in rows] if rows else None)
        )

    def post(client: Any, n: int, key: str) -> Any:
        token = rush_seed.session_token("capture", n)
        return client.post(
            "/api/v1/orders",
            json={"offer_id": CAPTURE_PROVIDER, "delivery_on": day.isoformat()},
            headers={
                "Idempotency-Key": key,
                "X-CSRF-Token": "bench",
                "Cookie": f"market_session={token}; market_csrf=bench",
            },
        )

    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="https://bench") as client:
            warm = await post(client, CAPTURE_CITIZEN + 1, "warm-up")
            if warm.status_code != 201:
                raise SystemExit(f"Capture warm-up answered {warm.status_code}: {warm.text}")
            sequences = await admin.fetch(
                "SELECT schemaname, sequencename FROM pg_sequences ORDER BY 1, 2"
            )
            for i, row in enumerate(sequences):
                await admin.execute(
                    f'SELECT setval(\'"{row[0]}"."{row[1]}"\', {SEQUENCE_BASE + i * 1_000_000})'
                )
            await admin.execute(f"UPDATE audit_chain_head SET seq = {HEAD_SEQ}")
            await asyncio.sleep(0.2)
            start = _size(log)
            event.listen(app.state.engine.sync_engine, "after_cursor_execute", after)
            placed = await post(client, CAPTURE_CITIZEN, "the-captured-order")
            event.remove(app.state.engine.sync_engine, "after_cursor_execute", after)
            if placed.status_code != 201:
                raise SystemExit(f"Captured placement answered {placed.status_code}.")
    finally:
        await app.state.engine.dispose()
        await admin.close()
    await asyncio.sleep(0.3)  # the server's log is written asynchronously
    text = _read_from(log, start)
    statements = parse_log(text, database)
    extended = [s for s in statements if not s.simple]
    driver = [(sql, rows) for sql, rows in recorded]
    if len(extended) != len(driver):
        raise SystemExit(
            f"The log shows {len(extended)} statements, the driver {len(driver)}: cannot match."
        )
    for st, (sql, rows) in zip(extended, driver, strict=True):
        if " ".join(st.sql.split())[:200] != " ".join(sql.split())[:200]:
            raise SystemExit(f"Log and driver disagree: {st.sql[:80]!r} / {sql[:80]!r}")
        st.rows = rows
    return statements


def _size(log: Path) -> int:
    return log.stat().st_size


def _read_from(log: Path, start: int) -> str:
    with log.open("rb") as f:
        f.seek(start)
        return f.read().decode("utf-8", "replace")


def capture(settings_env: dict[str, str], day: date, log: Path) -> tuple[list[Statement], str]:
    """Seeds a capture database, places one order in it and returns its
    statements and the capture citizen's scoped idempotency key digest."""
    with throwaway_database("postgresql") as db:
        reg = rush_seed.region(2, 1, day)
        asyncio.run(
            rush_seed.seed(
                db.url,
                reg,
                "capture",
                first_citizen=CAPTURE_CITIZEN,
                first_provider=CAPTURE_PROVIDER,
            )
        )
        env = {**settings_env, "MARKET_DATABASE_URL": db.url}
        statements = asyncio.run(_capture_async(db.url, env, day, log, 1))
    return statements, _scoped_digest(CAPTURE_CITIZEN + rush_seed.USER_OFFSET, "the-captured-order")


def _scoped_digest(user_id: int, key: str) -> str:
    import hashlib

    return hashlib.sha256(f"{user_id}\n{key}".encode()).hexdigest()


def exact_values(digest: str, day: date) -> dict[str, str]:
    """The capture's own values and the SQL each becomes in the script."""
    n = CAPTURE_CITIZEN
    token = rush_seed.token_hash(rush_seed.session_token("capture", n))
    later = f"(DATE '{day.isoformat()}' + 7 * :w)"
    return {
        token: ":tok",
        digest: ":m",  # the scoped idempotency key: unique per transaction as m is
        str(n): ":n",  # citizen, grant, granted account, issue transfer
        str(n + rush_seed.USER_OFFSET): ":u",
        str(CAPTURE_PROVIDER): ":p",  # provider, approval, offer
        day.isoformat(): later,
        iso_week_of(day): f"""to_char({later}, 'IYYY-"W"IW')""",
    }


async def add_pgbench_sessions(url: str, citizens: int) -> None:
    """Sessions pgbench's transactions can name by a number (its variables are numbers)."""
    conn = await pg_connect(url)
    try:
        await conn.execute(
            "INSERT INTO user_session (token_hash, user_id, second_factor_pending, created_at,"
            " expires_at) SELECT (n + $1)::text, n + $2, FALSE, now(), now() + interval '2 days'"
            " FROM generate_series(1, $3) AS n",
            PGBENCH_TOKEN_BASE,
            rush_seed.USER_OFFSET,
            citizens,
        )
    finally:
        await conn.close()


@dataclass
class PgbenchResult:
    tps: float
    transactions: int
    failed: int
    latency_ms: float
    round_trips: int
    script: str
    output: str


def run_pgbench(
    url: str,
    script: str,
    *,
    clients: int,
    duration: int,
    providers: int,
    round_trips: int,
) -> PgbenchResult:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
        path = f.name
    try:
        cmd = [
            os.environ.get("PGBENCH", "pgbench"),
            "-n",
            "-M", "prepared",
            "-c", str(clients),
            "-j", str(min(clients, os.cpu_count() or 1)),
            "-T", str(duration),
            "-D", "i=0",
            "-D", f"providers={providers}",
            "-f", path,
            "-h", parsed.host or "127.0.0.1",
            "-p", str(parsed.port or 5432),
            "-U", parsed.username or "postgres",
            parsed.database or "",
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    finally:
        os.unlink(path)
    output = done.stdout + done.stderr

    def number(pattern: str) -> float:
        match = re.search(pattern, output)
        return float(match.group(1)) if match else 0.0

    return PgbenchResult(
        tps=number(r"tps = ([\d.]+)"),
        transactions=int(number(r"actually processed: (\d+)")),
        failed=int(number(r"failed transactions: (\d+)")) + (0 if done.returncode == 0 else 1),
        latency_ms=number(r"latency average = ([\d.]+) ms"),
        round_trips=round_trips,
        script=script,
        output=output,
    )
