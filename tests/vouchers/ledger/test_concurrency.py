"""Many requests race for the last voucher units of one week. The conditional
UPDATE must let exactly as many succeed as there are units, on SQLite and on
PostgreSQL, with no "database is locked" error reaching anyone.

The race needs committed data and separate connections, so it runs on its own
freshly migrated database (a temporary SQLite file, or a throwaway PostgreSQL
database), never the rolled-back test session."""

import asyncio
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from market.auth import service as auth_service
from market.auth.models import Role
from market.auth.permissions import Actor
from market.config import Settings
from market.db import create_engine, create_sessionmaker
from market.errors import AppError
from market.municipalities import service as municipalities
from tests.conftest import TEST_SECRET, backend, committed_database
from tests.vouchers.conftest import next_monday
from vouchers import repository, service
from vouchers.exceptions import NoUnitsLeft
from vouchers.models import AccountKind
from vouchers.schemas import CitizenDetails, GrantTerms

WORKERS = 24
UNITS_LEFT = 5
RESULTS: list[str] = []


@pytest.fixture(scope="module")
async def race_settings(tmp_path_factory: pytest.TempPathFactory):
    async with committed_database(tmp_path_factory.mktemp("race"), "race") as url:
        yield Settings(environment="test", database_url=url, secret_key=TEST_SECRET)


@dataclass
class Race:
    grant_id: int
    actor: Actor
    day: date


async def _prepare(engine: AsyncEngine, code: str) -> Race:
    """A municipality, a case worker, a citizen and a 7-a-week grant whose week
    has only UNITS_LEFT units left. Committed."""
    maker = create_sessionmaker(engine)
    day = next_monday()
    async with maker() as session, session.begin():
        municipality = await municipalities.create(
            session, code=code, name=f"Racekommune {code}", postal_codes={"9000": "Aalborg"}
        )
        assert municipality.id is not None
        worker = await auth_service.create_user(
            session,
            actor=None,
            email=f"cw{code}@race.example",
            full_name="Case Worker",
            password=None,
            role=Role.CASE_WORKER,
            municipality_id=municipality.id,
        )
        actor = auth_service.actor_for(worker)
        await service.set_copayment_cap(
            session, actor=None, municipality_id=municipality.id, year=day.year, cap_ore=6500
        )
        citizen = await service.create_citizen(
            session,
            actor=actor,
            secret_key=TEST_SECRET,
            details=CitizenDetails(
                full_name="Ella Racer", cpr="010145-1234", address="Vej 1", postal_code="9000"
            ),
        )
        assert citizen.id is not None
        grant = await service.grant_voucher(
            session,
            actor=actor,
            citizen_id=citizen.id,
            terms=GrantTerms(
                units_per_week=7,
                valid_from=day,
                valid_to=day + timedelta(days=27),
                copayment_ore=6000,
            ),
        )
        assert grant.id is not None
        await service.reserve(
            session,
            grant_id=grant.id,
            delivery_on=day,
            units=7 - UNITS_LEFT,
            idempotency_key=f"setup-{code}",
            actor=actor,
        )
    return Race(grant_id=grant.id, actor=actor, day=day)


async def _one_reservation(engine: AsyncEngine, race: Race, key: str) -> str:
    maker = create_sessionmaker(engine)
    try:
        async with maker() as session, session.begin():
            move = await service.reserve(
                session,
                grant_id=race.grant_id,
                delivery_on=race.day + timedelta(days=1),
                units=1,
                idempotency_key=key,
                actor=race.actor,
            )
            return f"ok:{move.transfer_id}"
    except NoUnitsLeft as exc:
        assert str(exc).startswith("No voucher units are left for week")
        return "no_units"
    except Exception as exc:  # anything else (e.g. "database is locked") fails the test
        return f"error:{type(exc).__name__}:{exc}"


async def _check(engine: AsyncEngine, race: Race) -> None:
    maker = create_sessionmaker(engine)
    week = service.iso_week_of(race.day)
    async with maker() as session, session.begin():
        assert await repository.balance(session, race.grant_id, AccountKind.AVAILABLE, week) == 0
        assert await repository.balance(session, race.grant_id, AccountKind.RESERVED, week) == 7
        report = await service.verify_ledger(session)
        assert report.ok, report.problems


def _code() -> str:
    return f"9{uuid.uuid4().int % 1000:03d}"


@pytest.mark.parametrize("how", ["tasks", "threads"])
async def test_last_units_race(race_settings: Settings, how: str):
    engine = create_engine(race_settings)
    try:
        race = await _prepare(engine, _code())
        if how == "tasks":
            outcomes = await asyncio.gather(
                *(_one_reservation(engine, race, f"race-{uuid.uuid4()}") for _ in range(WORKERS))
            )
        else:
            outcomes = await asyncio.to_thread(_race_in_threads, race_settings, race)
        counts = Counter(o.split(":")[0] for o in outcomes)
        RESULTS.append(f"{backend()} {how}: {dict(counts)}")
        print(f"\n{backend()} {how}: {WORKERS} workers, {UNITS_LEFT} units left → {dict(counts)}")
        assert [o for o in outcomes if o.startswith("error")] == []
        assert counts["ok"] == UNITS_LEFT
        assert counts["no_units"] == WORKERS - UNITS_LEFT
        await _check(engine, race)
    finally:
        await engine.dispose()


def _race_in_threads(settings: Settings, race: Race) -> list[str]:
    """One OS thread per worker, each with its own event loop and connection."""
    outcomes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(WORKERS)

    def run() -> None:
        async def go() -> str:
            engine = create_engine(settings, poolclass=NullPool)
            try:
                barrier.wait()
                return await _one_reservation(engine, race, f"thread-{uuid.uuid4()}")
            finally:
                await engine.dispose()

        result = asyncio.run(go())
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


async def test_same_key_raced_moves_once(race_settings: Settings):
    """Twelve requests with one idempotency key: one transfer, every caller gets it."""
    engine = create_engine(race_settings)
    try:
        race = await _prepare(engine, _code())
        outcomes = await asyncio.gather(
            *(_one_reservation(engine, race, "the-same-key") for _ in range(12))
        )
        assert len(set(outcomes)) == 1 and outcomes[0].startswith("ok:"), outcomes
        maker = create_sessionmaker(engine)
        week = service.iso_week_of(race.day)
        async with maker() as session, session.begin():
            reserved = await repository.balance(session, race.grant_id, AccountKind.RESERVED, week)
            assert reserved == 7 - UNITS_LEFT + 1
            assert (await service.verify_ledger(session)).ok
    finally:
        await engine.dispose()


async def test_revocation_racing_reservations_leaves_nothing_reserved_after_the_end(
    race_settings: Settings,
):
    """Reservations for the rest of the week race a revocation whose last day is
    the Monday: whatever order they commit in, nothing stays reserved after it."""
    engine = create_engine(race_settings)
    try:
        race = await _prepare(engine, _code())
        maker = create_sessionmaker(engine)

        async def reserve(offset: int) -> str:
            try:
                async with maker() as session, session.begin():
                    await service.reserve(
                        session,
                        grant_id=race.grant_id,
                        delivery_on=race.day + timedelta(days=offset),
                        units=1,
                        idempotency_key=f"rv-{uuid.uuid4()}",
                        actor=race.actor,
                    )
                return "ok"
            except AppError as exc:
                return exc.code

        async def revoke() -> str:
            async with maker() as session, session.begin():
                await service.revoke_grant(
                    session,
                    actor=race.actor,
                    grant_id=race.grant_id,
                    reason="Race",
                    ends_on=race.day,
                )
            return "revoked"

        jobs = [reserve(1 + i % 6) for i in range(12)]
        jobs.insert(6, revoke())
        outcomes = await asyncio.gather(*jobs)
        assert "revoked" in outcomes
        assert set(outcomes) <= {"ok", "revoked", "conflict", "no_units_left"}, outcomes
        week = service.iso_week_of(race.day)
        async with maker() as session, session.begin():
            reserved = await repository.balance(session, race.grant_id, AccountKind.RESERVED, week)
            assert reserved == 7 - UNITS_LEFT  # only the Monday's setup reservation
            report = await service.verify_ledger(session)
            assert report.ok, report.problems
    finally:
        await engine.dispose()
