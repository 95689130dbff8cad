"""Periodic work, run by `market tick` (cron or a systemd timer) and inside the
server when MARKET_RUN_PERIODIC is set. Like app.py and cli.py it may see every
package.

One runner at a time (market.operations.runner_lock). Every item is its own
unit of work: a round never holds a municipality's audit-chain head for more
than one order or grant, and one item that fails is logged and retried next
round without undoing the others."""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from market.clock import today as today_in_copenhagen
from market.community import service as community
from market.config import Settings
from market.db import utcnow
from market.operations import repository as operations
from market.operations.runner_lock import periodic_lock
from market.orders import service as orders
from market.outbox import service as outbox
from market.payments import service as payments
from market.payouts import service as payouts
from vouchers import service as vouchers

log = logging.getLogger("market.tick")

JOB = "tick"
Sessions = async_sessionmaker[AsyncSession]


async def _each(
    sessions: Sessions, ids: list[int], work: Callable[[AsyncSession, int], Awaitable[Any]]
) -> tuple[list[Any], int]:
    """Runs ``work`` for each id in a transaction of its own; returns the results and
    how many items failed (logged, left for the next round)."""
    results: list[Any] = []
    failed = 0
    for item_id in ids:
        try:
            async with sessions() as session, session.begin():
                results.append(await work(session, item_id))
        except Exception:
            failed += 1
            log.exception("periodic work: item %s failed; trying again next round", item_id)
    return results, failed


async def _ids(
    sessions: Sessions, query: Callable[[AsyncSession], Awaitable[list[int]]]
) -> list[int]:
    async with sessions() as session:
        return await query(session)


async def _work(settings: Settings, sessions: Sessions, now: datetime) -> dict[str, Any]:
    report: dict[str, Any] = {}
    today = today_in_copenhagen()
    expired, failed = await _each(
        sessions,
        await _ids(sessions, lambda s: orders.unaccepted_past_deadline(s, now=now)),
        lambda s, order_id: orders.expire_if_unaccepted(s, order_id=order_id, now=now),
    )
    report["orders_expired"] = sum(expired)
    standing, standing_failed = await _each(
        sessions,
        await _ids(sessions, orders.active_standing_order_ids),
        lambda s, standing_id: orders.place_one_standing_order(s, standing_id=standing_id, now=now),
    )
    report["standing_orders"] = {
        "standing_orders": sum(r.standing_orders for r in standing),
        "placed": sum(r.placed for r in standing),
        "problems": sum(r.problems for r in standing),
    }
    closed, closed_failed = await _each(
        sessions,
        await _ids(sessions, lambda s: vouchers.grants_with_weeks_to_close(s, today=today)),
        lambda s, grant_id: vouchers.close_grant_weeks(s, grant_id=grant_id, today=today),
    )
    report["weeks_closed"] = sum(closed)
    # After the standing orders, so a meal they placed gets its companion's visit.
    visits, visits_failed = await _each(
        sessions,
        await _ids(sessions, community.matched_request_ids),
        lambda s, request_id: community.plan_visits_for_match(s, request_id=request_id, now=now),
    )
    report["community_visits_planned"] = sum(visits)
    # After the order jobs, so expired orders release their card holds this round.
    report["card_payments"] = asdict(
        await payments.process_card_payments(
            sessions, settings=settings, gateway=payments.get_gateway(settings)
        )
    )
    # Stripe transfers of approved statements; each payout has its own steps.
    report["payouts"] = asdict(
        await payouts.send_transfers(
            sessions, settings=settings, gateway=payments.get_gateway(settings)
        )
    )
    # Last, so messages written by the jobs above go out in the same round.
    report["outbox"] = asdict(await outbox.deliver_due(sessions, settings=settings))
    report["failed_items"] = failed + standing_failed + closed_failed + visits_failed
    return report


async def run_once(settings: Settings, sessions: Sessions) -> dict[str, Any]:
    """One round of every periodic job, unless another runner holds the lock."""
    bind = sessions.kw["bind"]
    # Tests bind the sessions to a connection inside their transaction.
    engine: AsyncEngine = bind.engine if isinstance(bind, AsyncConnection) else bind
    async with periodic_lock(engine) as held:
        if not held:
            return {"skipped": "another periodic runner holds the lock"}
        started = utcnow()
        ok = False
        report: dict[str, Any] = {}
        try:
            report = await _work(settings, sessions, started)
            ok = report["failed_items"] == 0
            return report
        finally:
            try:
                async with sessions() as session, session.begin():
                    await operations.record_run(
                        session,
                        job=JOB,
                        started_at=started,
                        finished_at=utcnow(),
                        ok=ok,
                        report=json.dumps(report, default=str)[:4000],
                    )
            except Exception:  # the database may be the reason the round failed
                log.exception("could not record the periodic run")


async def run_forever(settings: Settings, sessions: Sessions) -> None:
    while True:
        try:
            report = await run_once(settings, sessions)
            log.info("periodic work done", extra={"report": report})
        except Exception:  # one failed round must not stop the next
            log.exception("periodic work failed; trying again next round")
        await asyncio.sleep(settings.tick_interval_seconds)
