"""Orders of one citizen at once, in a week nobody has ordered in yet. Each
request reads whether the week is allotted in its one read, before the grant's
row lock lets it on, so on PostgreSQL the later ones find the allotment taken
only when they write it (the write undoes itself and replays). The week must
still be allotted once and no unit reserved twice."""

import asyncio
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from market.db import create_engine, create_sessionmaker
from tests.conftest import backend
from tests.market.orders.test_concurrency import (  # noqa: F401 (fixtures)
    Race,
    _order,
    race,
    race_settings,
)
from vouchers import repository as voucher_repository
from vouchers import service as vouchers
from vouchers.models import AccountKind, LedgerTransfer


async def test_first_orders_of_a_week_at_once_allot_it_once(race_settings, race: Race):  # noqa: F811
    engine = create_engine(race_settings)
    citizen_id, grant_id, actor = race.citizens[-2]
    monday = race.day + timedelta(days=14)
    week = vouchers.iso_week_of(monday)
    try:
        outcomes = await asyncio.gather(
            *(
                _order(engine, actor, race.offer_id, monday + timedelta(days=n % 7), f"w-{n}")
                for n in range(9)
            )
        )
        counts = Counter(o.split(":")[0] for o in outcomes)
        print(f"\n{backend()}: 9 first orders of a week at once → {dict(counts)}")
        assert [o for o in outcomes if o.startswith("error")] == []
        assert counts["ok"] == 7 and counts["NoUnitsLeft"] == 2
        async with create_sessionmaker(engine)() as session:
            allotments = await session.execute(
                select(func.count())
                .select_from(LedgerTransfer)
                .where(LedgerTransfer.idempotency_key == f"allot:{grant_id}:{week}")
            )
            assert allotments.scalar_one() == 1
            balance = voucher_repository.balance
            assert await balance(session, grant_id, AccountKind.AVAILABLE, week) == 0
            assert await balance(session, grant_id, AccountKind.RESERVED, week) == 7
            assert (await vouchers.verify_ledger(session)).ok
    finally:
        await engine.dispose()
