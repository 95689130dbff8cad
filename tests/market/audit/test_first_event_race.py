"""The first events of a new chain, recorded at once by many requests (a new
municipality's first morning of orders): each request takes the next place in
the chain, none fails on the head row another request created a moment before,
and the chain verifies.

Needs committed data and separate connections, so it runs on its own freshly
migrated database, never the rolled-back test session."""

import asyncio

import pytest

from market.audit import service as audit
from market.config import Settings
from market.db import create_engine, create_sessionmaker
from market.municipalities.models import Municipality
from tests.conftest import TEST_SECRET, committed_database

REQUESTS = 12


@pytest.fixture
async def fresh_settings(tmp_path_factory: pytest.TempPathFactory):
    async with committed_database(tmp_path_factory.mktemp("audit-race"), "audit_race") as url:
        yield Settings(environment="test", database_url=url, secret_key=TEST_SECRET)


async def test_the_first_events_of_a_new_chain_recorded_at_once_all_land_in_order(
    fresh_settings: Settings,
) -> None:
    engine = create_engine(fresh_settings)
    maker = create_sessionmaker(engine)
    try:
        async with maker() as session, session.begin():
            # Written directly: the service would audit it and so start the chain.
            municipality = Municipality(code="0999", name="Ny Kommune")
            session.add(municipality)
        assert municipality.id is not None
        start = asyncio.Event()

        async def one_request(number: int) -> None:
            async with maker() as session, session.begin():
                await start.wait()
                await audit.record(
                    session,
                    actor=None,
                    action="order.placed",
                    entity_type="order",
                    entity_id=number,
                    municipality_id=municipality.id,
                )

        tasks = [asyncio.create_task(one_request(n)) for n in range(REQUESTS)]
        await asyncio.sleep(0.05)
        start.set()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        assert [o for o in outcomes if isinstance(o, BaseException)] == []

        async with maker() as session:
            report = await audit.verify_chain(session, chain=audit.chain_for(municipality.id))
        assert report.ok, report.problem
        assert report.events == REQUESTS
    finally:
        await engine.dispose()
