"""A worker as its own process, for the crash tests (tests/market/test_crash.py):

    python -m tests.market.crash_worker DATABASE_URL order USER_ID OFFER_ID DAY KEY [--kill]
    python -m tests.market.crash_worker DATABASE_URL settle USER_ID MONTH [--kill]

It does the work in one unit of work, as a request or a command does. With
--kill it SIGKILLs itself in the middle: after the change's last write (its
audit event) reached the database, before the commit."""

import asyncio
import os
import signal
import sys
from datetime import date, time, timedelta

from market.audit import service as audit
from market.auth import service as auth_service
from market.clock import local_instant
from market.config import Settings
from market.db import create_engine, create_sessionmaker
from market.orders import service as orders
from market.settlement import service as settlement


def kill_after_audit_event() -> None:
    """The audit event is the last write of every change: kill right after it."""
    record = audit.record

    async def record_then_die(session, **kwargs):  # type: ignore[no-untyped-def]
        await record(session, **kwargs)
        await session.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    audit.record = record_then_die  # type: ignore[assignment]


async def main(url: str, task: str, args: list[str]) -> None:
    settings = Settings(environment="test", database_url=url, secret_key="x" * 48)
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            user = await auth_service.get_user(session, user_id=int(args[0]))
            actor = auth_service.actor_for(user)
            if task == "order":
                day = date.fromisoformat(args[2])
                order = await orders.place_order(
                    session,
                    actor=actor,
                    citizen_id=None,
                    offer_id=int(args[1]),
                    delivery_on=day,
                    idempotency_key=args[3],
                    now=local_instant(day - timedelta(days=1), time(9, 0)),
                )
                print(f"order {order.id}")
            elif task == "settle":
                run = await settlement.run_month(
                    session, actor=actor, month_on=date.fromisoformat(args[1])
                )
                print(f"run {run.id}")
            else:
                raise SystemExit(f"unknown task {task}")
    finally:
        await engine.dispose()


if __name__ == "__main__":
    argv = sys.argv[1:]
    if "--kill" in argv:
        argv.remove("--kill")
        kill_after_audit_event()
    asyncio.run(main(argv[0], argv[1], argv[2:]))
