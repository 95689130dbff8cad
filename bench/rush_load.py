"""One load process of the order rush (bench.order_rush starts several): aiohttp
on keep-alive connections, each request a citizen's own order with its own
Idempotency-Key, signed in by the citizen's session cookie (the JSON API takes
a session with the double-submit CSRF header, or an API token; no token scope
may place orders).

Closed loop (``--rate 0``): ``--connections`` requests in flight, each sent as
the previous one is answered; saturation. Open loop (``--rate R``): requests
start on a fixed schedule whatever the answers, and latency counts from the
scheduled start, so a server that falls behind shows it (no coordinated
omission).

Request j of process p of W is number k = start + p + W·j: citizen k mod N + 1,
offer k mod P + 1, delivery day ``--day`` + k div N. Writes a JSON summary:
latencies, answers by status, requests, its own CPU seconds."""

import argparse
import asyncio
import json
import resource
import time
from collections import Counter
from datetime import date, timedelta
from typing import Any

import aiohttp

from bench.rush_seed import session_token


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Load:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.day0 = date.fromisoformat(args.day)
        self.latencies: list[float] = []
        self.statuses: Counter[str] = Counter()
        self.sent = 0
        self.max_k = -1

    def request(self, j: int) -> tuple[str, dict[str, Any] | None, dict[str, str]]:
        a = self.args
        if a.path != "/api/v1/orders":
            return a.path, None, {}
        k = a.start + a.process + a.processes * j
        self.max_k = max(self.max_k, k)
        n = k % a.citizens + 1
        body = {
            "offer_id": k % a.providers + 1,
            "delivery_on": (self.day0 + timedelta(days=k // a.citizens)).isoformat(),
        }
        headers = {
            "Idempotency-Key": f"{a.tag}-{k}",
            "X-CSRF-Token": "bench",
            "Cookie": f"market_session={session_token(a.secret, n)}; market_csrf=bench",
        }
        return a.path, body, headers

    async def one(
        self,
        http: aiohttp.ClientSession,
        j: int,
        started: float,
        slots: asyncio.Semaphore | None = None,
        give_up_at: float = float("inf"),
    ) -> None:
        """One request; with ``slots``, it waits for a free connection first and
        is dropped unsent if none frees before ``give_up_at`` (the server is
        behind the schedule): a request on the wire is always waited for, so
        every order the server placed is counted."""
        if slots is not None:
            try:
                await asyncio.wait_for(slots.acquire(), max(0.0, give_up_at - time.perf_counter()))
            except TimeoutError:
                self.statuses["dropped unsent"] += 1
                return
        try:
            await self._send(http, j, started)
        finally:
            if slots is not None:
                slots.release()

    async def _send(self, http: aiohttp.ClientSession, j: int, started: float) -> None:
        path, body, headers = self.request(j)
        self.sent += 1
        try:
            if body is None:
                async with http.get(path) as response:
                    await response.read()
                    status = str(response.status)
            else:
                async with http.post(path, json=body, headers=headers) as response:
                    await response.read()
                    status = str(response.status)
        except (TimeoutError, aiohttp.ClientError) as exc:
            status = type(exc).__name__
        self.latencies.append(time.perf_counter() - started)
        self.statuses[status] += 1

    async def closed(self, http: aiohttp.ClientSession, deadline: float) -> None:
        counter = iter(range(10**9))

        async def worker() -> None:
            while time.perf_counter() < deadline:
                await self._send(http, next(counter), time.perf_counter())

        await asyncio.gather(*(worker() for _ in range(self.args.connections)))

    async def open(self, http: aiohttp.ClientSession, started: float, duration: float) -> None:
        interval = 1.0 / self.args.rate
        slots = asyncio.Semaphore(self.args.connections)
        give_up_at = started + duration + self.args.grace
        tasks = []
        j = 0
        while True:
            due = started + j * interval
            if due - started >= duration:
                break
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.one(http, j, due, slots, give_up_at)))
            j += 1
        await asyncio.gather(*tasks)

    async def run(self) -> dict[str, Any]:
        a = self.args
        connector = aiohttp.TCPConnector(limit=a.connections, force_close=False)
        timeout = aiohttp.ClientTimeout(total=a.timeout)
        cpu = _cpu_seconds()
        async with aiohttp.ClientSession(
            base_url=a.url, connector=connector, timeout=timeout
        ) as http:
            started = time.perf_counter()
            if a.rate > 0:
                await self.open(http, started, a.duration)
            else:
                await self.closed(http, started + a.duration)
            wall = time.perf_counter() - started
        return {
            "process": a.process,
            "wall_seconds": wall,
            "cpu_seconds": _cpu_seconds() - cpu,
            "sent": self.sent,
            "max_k": self.max_k,
            "statuses": dict(self.statuses),
            "latencies": self.latencies,
        }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--path", default="/api/v1/orders")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--rate", type=float, default=0.0, help="requests/s of this process; 0: closed")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument(
        "--grace", type=float, default=5.0, help="open loop: how long past the schedule to wait"
    )
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--process", type=int, default=0)
    p.add_argument("--processes", type=int, default=1)
    p.add_argument("--citizens", type=int, default=1)
    p.add_argument("--providers", type=int, default=1)
    p.add_argument("--day", default=date.today().isoformat())
    p.add_argument("--secret", default="")
    p.add_argument("--tag", default="rush")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    result = asyncio.run(Load(args).run())
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
