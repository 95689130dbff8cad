"""Many citizens order at once from one provider. Daily capacity and every
voucher's units are taken with conditional UPDATEs, so no race may exceed them,
on SQLite and on PostgreSQL, and no "database is locked" may reach anyone.

The race needs committed data and separate connections, so it runs on its own
freshly migrated database (a temporary SQLite file or a throwaway PostgreSQL
database), never the rolled-back test session."""

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, time, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from market.auth import service as auth_service
from market.auth.models import Role
from market.auth.permissions import Actor
from market.config import Settings
from market.db import create_engine, create_sessionmaker
from market.errors import AppError
from market.orders import repository, service
from market.orders.models import Order
from providers import service as providers
from tests.conftest import TEST_SECRET, backend, committed_database
from tests.factories import World, make_municipality, make_provider, make_user
from tests.providers.conftest import approved, publish_standard
from vouchers import repository as voucher_repository
from vouchers import service as vouchers
from vouchers.models import AccountKind
from vouchers.schemas import CitizenDetails, GrantTerms

CITIZENS = 20
CAPACITY = 5
UNITS_LEFT = 3
RESULTS: list[str] = []


@pytest.fixture(scope="module")
async def race_settings(tmp_path_factory: pytest.TempPathFactory):
    async with committed_database(tmp_path_factory.mktemp("orders-race"), "orders_race") as url:
        yield Settings(
            environment="test",
            database_url=url,
            secret_key=TEST_SECRET,
            upload_dir=tmp_path_factory.mktemp("race-uploads"),
        )


@dataclass
class Race:
    offer_id: int
    approval_id: int
    case_worker: Actor
    citizens: list[tuple[int, int, Actor]]  # citizen id, grant id, the citizen's own actor
    day: date


def race_day() -> date:
    """A Monday at least a week ahead, so no cut-off passes during the test."""
    today = vouchers.today_in_copenhagen()
    return today + timedelta(days=14 - today.weekday())


@pytest.fixture(scope="module")
async def race(race_settings: Settings) -> Race:
    """An approved provider (daily capacity CAPACITY) with one meal, and CITIZENS
    citizens with a 7-a-week voucher each. Committed."""
    engine = create_engine(race_settings)
    maker = create_sessionmaker(engine)
    day = race_day()
    try:
        async with maker() as session, session.begin():
            aarhus = await make_municipality(
                session,
                "0751",
                "Aarhus Kommune",
                {"8000": "Aarhus C", "8200": "Aarhus N", "8210": "Aarhus V"},
            )
            odense = await make_municipality(session, "0461", "Odense Kommune", {"5000": "O"})
            provider = await make_provider(session)
            users = {
                "admin": await make_user(
                    session, "admin@race.dk", Role.MUNICIPAL_ADMIN, municipality_id=aarhus.id
                ),
                "case_worker": await make_user(
                    session, "cw@race.dk", Role.CASE_WORKER, municipality_id=aarhus.id
                ),
                "provider_admin": await make_user(
                    session, "chef@race.dk", Role.PROVIDER_ADMIN, provider_id=provider.id
                ),
            }
            world = World(aarhus, odense, users, provider)
            admin = auth_service.actor_for(users["admin"])
            std = await publish_standard(session, admin)
            approval = await approved(session, world, std, race_settings, daily_capacity=CAPACITY)
            chef = auth_service.actor_for(users["provider_admin"])
            offer = await providers.save_offer(
                session,
                actor=chef,
                settings=race_settings,
                offer_id=None,
                name="Boller i karry",
                description="",
                diet_forms=["normal"],
                allergens=[],
                weekdays=[1, 2, 3, 4, 5, 6, 7],
                daily_capacity=None,
            )
            await providers.save_ordering_profile(
                session,
                actor=chef,
                cutoff_days_before=1,
                cutoff_time=time(14, 0),
                window_start=time(11, 0),
                window_end=time(13, 0),
                accept_within_hours=4,
                auto_accept=False,
                webhook_url=None,
            )
            case_worker = auth_service.actor_for(users["case_worker"])
            for year in {day.year, vouchers.today_in_copenhagen().year}:
                await vouchers.set_copayment_cap(
                    session, actor=None, municipality_id=aarhus.id, year=year, cap_ore=6500
                )
            citizens = []
            start = vouchers.today_in_copenhagen()
            start -= timedelta(days=start.weekday())
            for n in range(CITIZENS):
                citizen = await vouchers.create_citizen(
                    session,
                    actor=case_worker,
                    secret_key=TEST_SECRET,
                    details=CitizenDetails(
                        full_name=f"Borger {n}",
                        cpr=f"0101{30 + n:02d}-1234",
                        address=f"Vej {n}",
                        postal_code="8200",
                    ),
                )
                grant = await vouchers.grant_voucher(
                    session,
                    actor=case_worker,
                    citizen_id=citizen.id,
                    terms=GrantTerms(
                        units_per_week=7,
                        valid_from=start,
                        valid_to=start + timedelta(days=7 * 5 - 1),
                        copayment_ore=6000,
                    ),
                )
                user = await auth_service.get_user(session, user_id=citizen.user_id)
                citizens.append((citizen.id, grant.id, auth_service.actor_for(user)))
        return Race(
            offer_id=offer.id,
            approval_id=approval.id,
            case_worker=case_worker,
            citizens=citizens,
            day=day,
        )
    finally:
        await engine.dispose()


async def _order(engine: AsyncEngine, actor: Actor, offer_id: int, day: date, key: str) -> str:
    """What the pages and the API do for one request: its own unit of work."""
    maker = create_sessionmaker(engine)
    try:
        async with maker() as session, session.begin():
            order, _ = await service.place_order_once(
                session,
                actor=actor,
                citizen_id=None,
                offer_id=offer_id,
                delivery_on=day,
                idempotency_key=key,
            )
            return f"ok:{order.id}"
    except AppError as exc:
        return type(exc).__name__
    except Exception as exc:  # anything else (e.g. "database is locked") fails the test
        return f"error:{type(exc).__name__}:{exc}"


async def test_many_citizens_never_exceed_the_daily_capacity(race_settings: Settings, race: Race):
    engine = create_engine(race_settings)
    try:
        outcomes = await asyncio.gather(
            *(
                _order(engine, actor, race.offer_id, race.day, f"cap-{uuid.uuid4()}")
                for _, _, actor in race.citizens
            )
        )
        counts = Counter(o.split(":")[0] for o in outcomes)
        RESULTS.append(f"{backend()} capacity: {dict(counts)}")
        print(f"\n{backend()}: {CITIZENS} citizens, capacity {CAPACITY} → {dict(counts)}")
        assert [o for o in outcomes if o.startswith("error")] == []
        assert counts["ok"] == CAPACITY
        assert counts["CapacityFull"] == CITIZENS - CAPACITY
        async with create_sessionmaker(engine)() as session:
            used = await repository.capacity_used(
                session, scope=f"approval:{race.approval_id}", day=race.day
            )
            placed = await session.execute(
                select(func.count()).select_from(Order).where(Order.delivery_on == race.day)
            )
            assert used == CAPACITY and placed.scalar_one() == CAPACITY
            week = vouchers.iso_week_of(race.day)
            reserved = 0
            for _, grant_id, _ in race.citizens:
                reserved += await voucher_repository.balance(
                    session, grant_id, AccountKind.RESERVED, week
                )
            assert reserved == CAPACITY  # the refused ones reserved nothing
            assert (await vouchers.verify_ledger(session)).ok
    finally:
        await engine.dispose()


async def test_one_citizen_never_exceeds_the_voucher_units(race_settings: Settings, race: Race):
    """Twelve orders at once for one citizen on the days of one week that has
    only UNITS_LEFT units left: exactly that many are placed."""
    engine = create_engine(race_settings)
    citizen_id, grant_id, actor = race.citizens[-1]
    monday = race.day + timedelta(days=7)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await vouchers.reserve(
                session,
                grant_id=grant_id,
                delivery_on=monday,
                units=7 - UNITS_LEFT,
                idempotency_key="setup-units",
                actor=race.case_worker,
            )
        outcomes = await asyncio.gather(
            *(
                _order(engine, actor, race.offer_id, monday + timedelta(days=n % 7), f"u-{n}")
                for n in range(12)
            )
        )
        counts = Counter(o.split(":")[0] for o in outcomes)
        RESULTS.append(f"{backend()} units: {dict(counts)}")
        print(f"\n{backend()}: 12 orders, {UNITS_LEFT} units left → {dict(counts)}")
        assert [o for o in outcomes if o.startswith("error")] == []
        assert counts["ok"] == UNITS_LEFT
        assert counts["NoUnitsLeft"] == 12 - UNITS_LEFT
        async with create_sessionmaker(engine)() as session:
            week = vouchers.iso_week_of(monday)
            assert (
                await voucher_repository.balance(session, grant_id, AccountKind.AVAILABLE, week)
                == 0
            )
            assert (
                await voucher_repository.balance(session, grant_id, AccountKind.RESERVED, week) == 7
            )
            # capacity taken only for the orders that were placed
            used = 0
            for n in range(7):
                used += await repository.capacity_used(
                    session, scope=f"approval:{race.approval_id}", day=monday + timedelta(days=n)
                )
            assert used == UNITS_LEFT
            assert (await vouchers.verify_ledger(session)).ok
    finally:
        await engine.dispose()


async def test_a_double_tap_raced_places_one_order(race_settings: Settings, race: Race):
    """Eight requests with one idempotency key at once: one order, the others get it."""
    engine = create_engine(race_settings)
    _, _, actor = race.citizens[0]
    day = race.day + timedelta(days=1)
    try:
        outcomes = await asyncio.gather(
            *(_order(engine, actor, race.offer_id, day, "the-same-tap") for _ in range(8))
        )
        RESULTS.append(f"{backend()} same key: {dict(Counter(outcomes))}")
        print(f"\n{backend()}: 8 taps, one key → {dict(Counter(outcomes))}")
        assert len(set(outcomes)) == 1 and outcomes[0].startswith("ok:"), outcomes
        async with create_sessionmaker(engine)() as session:
            used = await repository.capacity_used(
                session, scope=f"approval:{race.approval_id}", day=day
            )
            assert used == 1
    finally:
        await engine.dispose()
