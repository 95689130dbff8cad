"""Admins issuing the same month at once: exactly one issues, the others are
told nothing is new, and no order is charged twice — on SQLite and PostgreSQL.

The race needs committed data and separate connections, so it runs on its own
freshly migrated database, never the rolled-back test session."""

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from market.auth import service as auth_service
from market.auth.models import Role
from market.auth.permissions import Actor
from market.config import Settings
from market.copayments import service
from market.copayments.models import CopaymentStatement, CopaymentStatementLine
from market.db import create_engine, create_sessionmaker
from market.errors import AppError
from market.orders.models import OrderStatus
from providers import service as providers
from tests.conftest import TEST_SECRET, committed_database
from tests.factories import World, make_municipality, make_provider, make_user
from tests.market.copayments.conftest import insert_order, last_month
from tests.market.orders.conftest import Diner, Kitchen
from tests.providers.conftest import approved, publish_standard
from vouchers import service as vouchers
from vouchers.schemas import CitizenDetails, GrantTerms

CITIZENS = 4
MEALS = 5
ISSUERS = 6


@pytest.fixture(scope="module")
async def race_settings(tmp_path_factory: pytest.TempPathFactory):
    async with committed_database(tmp_path_factory.mktemp("copay-race"), "copay_race") as url:
        yield Settings(
            environment="test",
            database_url=url,
            secret_key=TEST_SECRET,
            upload_dir=tmp_path_factory.mktemp("copay-race-uploads"),
        )


@pytest.fixture(scope="module")
async def admins(race_settings: Settings) -> list[Actor]:
    """A provider approved in Aarhus, CITIZENS citizens with MEALS delivered
    meals each last month, and the admins who will issue it. Committed."""
    engine = create_engine(race_settings)
    maker = create_sessionmaker(engine)
    month = last_month()
    try:
        async with maker() as session, session.begin():
            aarhus = await make_municipality(session, "0751", "Aarhus Kommune", {"8200": "N"})
            odense = await make_municipality(session, "0461", "Odense Kommune", {"5000": "O"})
            provider = await make_provider(session)
            users = {
                f"admin{n}": await make_user(
                    session, f"admin{n}@race.dk", Role.MUNICIPAL_ADMIN, municipality_id=aarhus.id
                )
                for n in range(ISSUERS)
            }
            users["admin"] = users["admin0"]
            users["case_worker"] = await make_user(
                session, "cw@race.dk", Role.CASE_WORKER, municipality_id=aarhus.id
            )
            users["provider_admin"] = await make_user(
                session, "chef@race.dk", Role.PROVIDER_ADMIN, provider_id=provider.id
            )
            world = World(aarhus, odense, users, provider)
            std = await publish_standard(session, auth_service.actor_for(users["admin"]))
            approval = await approved(
                session, world, std, race_settings, valid_from=month, service_area="8200"
            )
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
            kitchen = Kitchen(approval=approval, offer=offer, staff=chef, admin=chef)
            case_worker = auth_service.actor_for(users["case_worker"])
            for year in {month.year, vouchers.today_in_copenhagen().year}:
                await vouchers.set_copayment_cap(
                    session, actor=None, municipality_id=aarhus.id, year=year, cap_ore=6500
                )
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
                        valid_from=month,
                        valid_to=month + timedelta(days=60),
                        copayment_ore=6000,
                    ),
                )
                user = await auth_service.get_user(session, user_id=citizen.user_id)
                diner = Diner(citizen=citizen, grant=grant, me=auth_service.actor_for(user))
                for day in range(MEALS):
                    await insert_order(
                        session, kitchen, diner, month + timedelta(days=day), OrderStatus.DELIVERED
                    )
        return [auth_service.actor_for(users[f"admin{n}"]) for n in range(ISSUERS)]
    finally:
        await engine.dispose()


async def _issue(engine: AsyncEngine, actor: Actor) -> str:
    """What one request does: its own unit of work."""
    maker = create_sessionmaker(engine)
    try:
        async with maker() as session, session.begin():
            result = await service.issue_month(session, actor=actor, month_on=last_month())
            return f"issued:{len(result.statement_ids)}:{result.lines}"
    except AppError as exc:
        return type(exc).__name__
    except Exception as exc:  # anything else (a unique violation, "database is locked") fails
        return f"error:{type(exc).__name__}:{exc}"


async def test_admins_issuing_at_once_charge_every_meal_exactly_once(
    race_settings: Settings, admins: list[Actor]
):
    engine = create_engine(race_settings)
    try:
        outcomes = Counter(await asyncio.gather(*(_issue(engine, a) for a in admins)))
        assert outcomes == {
            f"issued:{CITIZENS}:{CITIZENS * MEALS}": 1,
            "NothingNewToCharge": ISSUERS - 1,
        }
        maker = create_sessionmaker(engine)
        async with maker() as session:
            lines = (
                await session.execute(
                    select(
                        func.count(CopaymentStatementLine.id),
                        func.count(CopaymentStatementLine.order_id.distinct()),
                    )
                )
            ).one()
            statements = (
                await session.execute(select(func.count(CopaymentStatement.id)))
            ).scalar_one()
        assert tuple(lines) == (CITIZENS * MEALS, CITIZENS * MEALS)
        assert statements == CITIZENS
    finally:
        await engine.dispose()
