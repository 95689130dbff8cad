"""Order rush: seeds a large region on PostgreSQL, serves it as production does
(gunicorn with uvicorn workers), places orders through the JSON API from
separate load processes (at saturation and at fixed rates), verifies the
voucher ledger and the audit chain, and replays the statements of one
placement with pgbench against the same database: the physical limit.

    .venv/bin/python -m bench.order_rush [--citizens 20000] [--providers 100]
        [--connections 32] [--duration 20] [--rates 50,100,200]

Prints a markdown table and writes bench/results/order_rush-<timestamp>.json.
"""

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench import rush_pgbench, rush_seed
from bench.common import (
    ROOT,
    SECRET,
    Timer,
    markdown_table,
    pg_connect,
    throwaway_database,
    write_results,
)
from market.clock import today

LOAD_SECRET = "rush"  # derives the citizens' session tokens (bench.rush_seed.session_token)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(database_url: str) -> dict[str, str]:
    """The production settings (docs/operations.md), on this machine's database."""
    return {
        "MARKET_ENVIRONMENT": "production",
        "MARKET_DATABASE_URL": database_url,
        "MARKET_SECRET_KEY": SECRET,
        "MARKET_SMTP_HOST": "127.0.0.1",
    }


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return sorted(int(p) for p in children.read_text().split())

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def serve(
    database_url: str,
    workers: int,
    log: Path,
    extra_args: str = "",
    config: str = "gunicorn.conf.py",
    socket_per_worker: bool = True,
) -> Server:
    """``gunicorn -c gunicorn.conf.py market.asgi:app`` as docs/operations.md runs
    it, on a free port (GUNICORN_CMD_ARGS), waiting until /livez answers."""
    port = _free_port()
    env = {
        **os.environ,
        **server_env(database_url),
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port} --workers {workers} {extra_args}".strip(),
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(gunicorn), "-c", config, "market.asgi:app"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, port, log)
    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited: see {log}")
        try:
            with urllib.request.urlopen(f"{server.url}/livez", timeout=1):
                pass
            sockets = workers if socket_per_worker else 1  # gunicorn.conf.py: reuse_port
            if len(server.workers()) == workers and _listening(port) >= sockets:
                return server
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise SystemExit("gunicorn's workers were not all listening within 30 s")


def _listening(port: int) -> int:
    """Listening sockets on the port: one per booted worker with ``reuse_port``
    (connections made before a worker listens all go to the others)."""
    out = subprocess.run(
        ["ss", "-tlnH", "(", "sport", "=", f":{port}", ")"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return len(out.splitlines())


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _connections(port: int) -> dict[int, int]:
    """Established connections on the server's port, by the process holding them."""
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", "(", "sport", "=", f":{port}", ")"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    held: Counter[int] = Counter()
    for line in out.splitlines():
        pids = set(re.findall(r"pid=(\d+)", line))
        for pid in pids:
            held[int(pid)] += 1
    return dict(held)


@dataclass
class Phase:
    name: str
    path: str = "/api/v1/orders"
    connections: int = 32
    rate: float = 0.0  # total requests/s; 0: closed loop
    duration: float = 20.0


class Rush:
    def __init__(self, server: Server, args: argparse.Namespace, day0: Any, workdir: Path):
        self.server = server
        self.args = args
        self.day0 = day0
        self.workdir = workdir
        self.next_k = 0
        self.max_k = -1

    def run(self, phase: Phase) -> dict[str, Any]:
        a = self.args
        processes = a.load_processes
        workers = self.server.workers()
        cpu_before = {pid: _cpu(pid) for pid in workers}
        load_before = os.getloadavg()[0]
        outs = [self.workdir / f"{phase.name}-{p}.json" for p in range(processes)]
        started = time.perf_counter()
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.rush_load",
                    "--url",
                    self.server.url,
                    "--path",
                    phase.path,
                    "--connections",
                    str(max(1, phase.connections // processes)),
                    "--rate",
                    str(phase.rate / processes),
                    "--duration",
                    str(phase.duration),
                    "--start",
                    str(self.next_k),
                    "--process",
                    str(p),
                    "--processes",
                    str(processes),
                    "--citizens",
                    str(a.citizens),
                    "--providers",
                    str(a.providers),
                    "--day",
                    self.day0.isoformat(),
                    "--secret",
                    LOAD_SECRET,
                    "--tag",
                    f"rush-{phase.name}",
                    "--out",
                    str(outs[p]),
                ],  # fmt: skip
                cwd=ROOT,
            )
            for p in range(processes)
        ]
        # The busiest moment's connections (the processes connect after importing).
        held: dict[int, int] = {}
        while any(proc.poll() is None for proc in procs):
            now = _connections(self.server.port)
            if sum(now.values()) > sum(held.values()):
                held = now
            time.sleep(0.5)
        wall = time.perf_counter() - started
        parts = [json.loads(out.read_text()) for out in outs]
        cpu_after = {pid: _cpu(pid) for pid in workers if Path(f"/proc/{pid}").exists()}
        latencies = sorted(x for part in parts for x in part["latencies"])
        statuses: Counter[str] = Counter()
        for part in parts:
            statuses.update(part["statuses"])
        sent = max(part["max_k"] for part in parts)
        if sent >= 0:
            self.max_k = max(self.max_k, sent)
            self.next_k = sent + processes
        # An order is placed on a 201; /livez answers 200.
        ok = statuses.get("201" if phase.path == "/api/v1/orders" else "200", 0)
        seconds = max(part["wall_seconds"] for part in parts)
        gen_cpu = sum(part["cpu_seconds"] for part in parts)
        return {
            "phase": phase.name,
            "path": phase.path,
            "connections": phase.connections,
            "rate": phase.rate,
            "duration": phase.duration,
            "requests": len(latencies),
            "ok": ok,
            "per_second": round(ok / seconds, 1) if seconds else 0.0,
            "p50_ms": _pct(latencies, 0.50),
            "p95_ms": _pct(latencies, 0.95),
            "p99_ms": _pct(latencies, 0.99),
            "max_ms": round(latencies[-1] * 1000, 1) if latencies else 0.0,
            "statuses": dict(statuses),
            "errors": {k: v for k, v in statuses.items() if k not in ("200", "201")},
            "worker_cpu_seconds": [
                round(cpu_after.get(pid, 0.0) - cpu_before[pid], 2) for pid in workers
            ],
            "worker_connections": [held.get(pid, 0) for pid in workers],
            # CPU the workers spent per answer: steadier than answers/s when
            # other work shares the machine.
            "server_cpu_ms_per_answer": round(
                1000 * sum(cpu_after.get(pid, 0.0) - cpu_before[pid] for pid in workers) / ok, 1
            )
            if ok
            else None,
            "load_generator_cpu_seconds": round(gen_cpu, 2),
            "load_generator_cpu_share": round(gen_cpu / wall / (os.cpu_count() or 1), 3),
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "uvloop": _installed("uvloop"),
            "httptools": _installed("httptools"),
        }


def _installed(module: str) -> bool:
    """uvicorn's "auto" loop and parser use uvloop and httptools when installed."""
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _pct(sorted_seconds: list[float], q: float) -> float:
    if not sorted_seconds:
        return 0.0
    index = min(len(sorted_seconds) - 1, max(0, int(len(sorted_seconds) * q + 0.5) - 1))
    return round(sorted_seconds[index] * 1000, 1)


def verify(database_url: str) -> dict[str, Any]:
    """The app's own checks, as an operator runs them."""
    market = Path(sys.executable).with_name("market")
    env = {**os.environ, **server_env(database_url)}
    results = {}
    for name in ("vouchers", "audit"):
        done = subprocess.run(
            [str(market), name, "verify"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        results[name] = {
            "ok": done.returncode == 0,
            "output": (done.stdout + done.stderr).strip().splitlines()[-3:],
        }
    return results


async def _counts(url: str) -> dict[str, int]:
    conn = await pg_connect(url)
    try:
        row = await conn.fetchrow(
            """SELECT
                (SELECT count(*) FROM service_order) AS orders,
                (SELECT coalesce(sum(units), 0) FROM service_order) AS order_units,
                (SELECT coalesce(sum(units), 0) FROM ledger_transfer WHERE reason = 'reserve')
                    AS units_reserved,
                (SELECT coalesce(sum(balance), 0) FROM voucher_account WHERE kind = 'reserved')
                    AS reserved_balance,
                (SELECT count(*) FROM audit_event WHERE action = 'order.placed')
                    AS audit_events"""
        )
        return {k: int(v) for k, v in dict(row).items()}
    finally:
        await conn.close()


def run(
    *,
    citizens: int,
    providers: int,
    connections: int,
    duration: float,
    rates: list[float],
    load_processes: int = 2,
    workers: int = 2,
    pgbench_seconds: float | None = None,
    pg_log: str | None = None,
    results_dir: Path | None = None,
) -> Path:
    args = argparse.Namespace(citizens=citizens, providers=providers, load_processes=load_processes)
    day0 = today() + timedelta(days=3)  # after every default cut-off
    reg = rush_seed.region(citizens, providers, today())
    result: dict[str, Any] = {
        "database": "postgresql",
        "citizens": citizens,
        "providers": providers,
        "gunicorn_workers": workers,
        "load_processes": load_processes,
        "connections": connections,
        "duration_seconds": duration,
    }
    # Kept after the run: the server's log, each load process's figures, the pgbench script.
    workdir = Path(tempfile.mkdtemp(prefix="order_rush-"))
    result["workdir"] = str(workdir)
    with throwaway_database("postgresql") as db:
        with Timer() as seeding:
            asyncio.run(rush_seed.seed(db.url, reg, LOAD_SECRET))
            asyncio.run(rush_seed.open_audit_chain(server_env(db.url)))
        result["seed_seconds"] = round(seeding.seconds, 2)
        server = serve(db.url, workers, workdir / "gunicorn.log")
        phases: list[dict[str, Any]] = []
        try:
            rush = Rush(server, args, day0, workdir)
            short = max(1.0, min(5.0, duration / 4))
            phases.append(rush.run(Phase("livez", "/livez", connections, 0, short)))
            phases.append(rush.run(Phase("warm-up", connections=connections, duration=short)))
            phases.append(rush.run(Phase("saturation", connections=connections, duration=duration)))
            for rate in rates:
                phases.append(
                    rush.run(
                        Phase(
                            f"rate-{rate:g}",
                            connections=max(64, connections),
                            rate=rate,
                            duration=duration,
                        )
                    )  # fmt: skip
                )
        finally:
            server.stop()
        result["phases"] = phases
        placed = sum(p["statuses"].get("201", 0) for p in phases if p["path"] != "/livez")
        result["orders_answered_201"] = placed
        result["counts"] = asyncio.run(_counts(db.url))
        result["verify"] = verify(db.url)
        # A request the client gave up on (a timeout) may still have placed its
        # order: those are the only orders allowed beyond the 201s.
        unknown = sum(
            n
            for p in phases
            if p["path"] != "/livez"
            for status, n in p["statuses"].items()
            if not status.isdigit() and status != "dropped unsent"
        )
        result["orders_unknown_outcome"] = unknown
        result["orders_match"] = placed <= result["counts"]["orders"] <= placed + unknown
        result["units_match"] = (
            result["counts"]["units_reserved"]
            == result["counts"]["reserved_balance"]
            == result["counts"]["order_units"]
        )
        # The physical limit: a week no rush order touched, a citizen per transaction.
        pg_day = day0 + timedelta(days=rush.max_k // citizens + 8)
        log = rush_pgbench.server_log(pg_log or os.environ.get("MARKET_BENCH_PG_LOG"))
        statements, digest = rush_pgbench.capture(server_env(db.url), pg_day, log)
        script, trips = rush_pgbench.build_script(
            statements,
            exact=rush_pgbench.exact_values(digest, pg_day),
            clients=connections,
            citizens=citizens,
        )
        asyncio.run(rush_pgbench.add_pgbench_sessions(db.url, citizens))
        bench = rush_pgbench.run_pgbench(
            db.url,
            script,
            clients=connections,
            duration=int(pgbench_seconds or duration),
            providers=providers,
            round_trips=trips,
        )
        (workdir / "placement.sql").write_text(script)
        result["pgbench"] = {
            "tps": bench.tps,
            "transactions": bench.transactions,
            "failed": bench.failed,
            "latency_ms": bench.latency_ms,
            "round_trips": bench.round_trips,
            "script": bench.script,
            "output_tail": bench.output.strip().splitlines()[-12:],
        }
    saturation = next(p for p in phases if p["phase"] == "saturation")
    result["app_orders_per_second"] = saturation["per_second"]
    result["app_to_pgbench"] = round(saturation["per_second"] / bench.tps, 3) if bench.tps else None
    _print(result)
    path = write_results("order_rush", result, results_dir)
    print(f"\nwritten to {path}")
    return path


def _print(r: dict[str, Any]) -> None:
    rows = []
    for p in r["phases"]:
        load = (
            "closed, {} connections".format(p["connections"])
            if not p["rate"]
            else (f"open, {p['rate']:g}/s")
        )
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(p["errors"].items())) or "none"
        rows.append(
            (
                p["phase"], p["path"], load, f"{p['per_second']:.0f}/s",
                f"{p['p50_ms']:.0f} ms", f"{p['p95_ms']:.0f} ms", f"{p['p99_ms']:.0f} ms",
                errors,
                " / ".join(str(c) for c in p["worker_connections"]),
                " / ".join(f"{c:.1f}" for c in p["worker_cpu_seconds"]),
                f"{p['server_cpu_ms_per_answer']} ms",
                f"{p['load_generator_cpu_share'] * 100:.0f} %",
            )
        )  # fmt: skip
    print(
        markdown_table(
            (
                "phase",
                "path",
                "load",
                "answered",
                "p50",
                "p95",
                "p99",
                "errors",
                "connections per worker",
                "CPU s per worker",
                "server CPU per answer",
                "load generator CPU",
            ),  # fmt: skip
            rows,
        )
    )
    pg = r["pgbench"]
    ok = lambda b: "passed" if b else "FAILED"  # noqa: E731
    print()
    print(
        markdown_table(
            ("figure", "value"),
            [
                (
                    "seed (COPY)",
                    f"{r['seed_seconds']} s for {r['citizens']} citizens, "
                    f"{r['providers']} providers",
                ),  # fmt: skip
                ("orders/s at saturation", f"{r['app_orders_per_second']:.0f}"),
                (
                    "pgbench, same statements, same clients",
                    f"{pg['tps']:.0f} tps ({pg['round_trips']} statements, {pg['failed']} failed)",
                ),  # fmt: skip
                ("app ÷ pgbench", r["app_to_pgbench"]),
                (
                    "orders answered 201 / in the database",
                    f"{r['orders_answered_201']} / {r['counts']['orders']}",
                ),  # fmt: skip
                (
                    "units reserved (ledger) / reserved balance / order units",
                    f"{r['counts']['units_reserved']} / {r['counts']['reserved_balance']} / "
                    f"{r['counts']['order_units']}",
                ),  # fmt: skip
                ("market vouchers verify", ok(r["verify"]["vouchers"]["ok"])),
                ("market audit verify", ok(r["verify"]["audit"]["ok"])),
            ],
        )
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citizens", type=int, default=20000)
    parser.add_argument("--providers", type=int, default=100)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--rates", default="50,100,200")
    parser.add_argument("--load-processes", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pg-log", default=None, help="the PostgreSQL server's log file")
    args = parser.parse_args(argv)
    run(
        citizens=args.citizens,
        providers=args.providers,
        connections=args.connections,
        duration=args.duration,
        rates=[float(r) for r in args.rates.split(",") if r.strip()],
        load_processes=args.load_processes,
        workers=args.workers,
        pg_log=args.pg_log,
    )


if __name__ == "__main__":
    main()
