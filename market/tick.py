"""Periodic work, run by `market tick` (cron-able) and inside the server when
MARKET_RUN_PERIODIC is set. Like app.py and cli.py it may see every package."""

import asyncio
import logging
from dataclasses import asdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.config import Settings
from market.orders import service as orders
from market.outbox import service as outbox
from market.payments import service as payments
from market.payouts import service as payouts
from vouchers import service as vouchers

log = logging.getLogger("market.tick")


async def run_once(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> dict[str, Any]:
    """One round of every periodic job; each job is its own unit of work."""
    report: dict[str, Any] = {}
    async with sessions() as session, session.begin():
        report["orders_expired"] = await orders.expire_unaccepted(session)
    async with sessions() as session, session.begin():
        report["standing_orders"] = asdict(await orders.place_standing_orders(session))
    async with sessions() as session, session.begin():
        report["weeks_closed"] = await vouchers.close_past_weeks(session)
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
    return report


async def run_forever(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
    while True:
        try:
            report = await run_once(settings, sessions)
            log.info("tick: %s", report)
        except Exception:  # one failed round must not stop the next
            log.exception("periodic work failed; trying again next round")
        await asyncio.sleep(settings.tick_interval_seconds)
