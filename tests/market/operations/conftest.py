"""Fresh, committed databases (not the rolled-back test transaction) for the
commands that work on a whole database: backup, restore, key rotation."""

import asyncio
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy.engine import make_url

from market.admin_tasks import unit_of_work
from market.auth import service as auth_service
from market.auth.models import Role
from market.config import Settings, get_settings
from tests.conftest import PG_ADMIN_URL, TEST_SECRET, _pg_admin, backend
from tests.factories import make_municipality, make_user
from vouchers import service as vouchers
from vouchers.schemas import CitizenDetails, GrantTerms

CPRS = ["010145-1234", "020250-2345", "030355-3456"]


@pytest.fixture
def new_database(tmp_path) -> Iterator[Callable[[], str]]:
    """Makes empty databases of the suite's kind; PostgreSQL ones are dropped afterwards."""
    made: list[str] = []

    def make() -> str:
        if backend() == "postgresql":
            name = f"market_ops_{uuid.uuid4().hex[:12]}"
            asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
            made.append(name)
            return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        return f"sqlite+aiosqlite:///{tmp_path / uuid.uuid4().hex[:8]}.db"

    yield make
    for name in made:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def use_database(monkeypatch, tmp_path) -> Callable[..., Settings]:
    """Points the `market` command (its settings from the environment) at a database."""

    def point(url: str, *, secret: str = TEST_SECRET, uploads: str = "uploads", **env: str):
        monkeypatch.setenv("MARKET_DATABASE_URL", url)
        monkeypatch.setenv("MARKET_ENVIRONMENT", "test")
        monkeypatch.setenv("MARKET_SECRET_KEY", secret)
        monkeypatch.setenv("MARKET_UPLOAD_DIR", str(tmp_path / uploads))
        monkeypatch.delenv("MARKET_OLD_SECRET_KEYS", raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        return get_settings()

    yield point
    get_settings.cache_clear()


async def seed_citizens(settings: Settings) -> str:
    """A municipality, a case worker with a second factor, three citizens with grants
    whose first weeks have ended (so the ledger and the audit chain have history)."""
    async with unit_of_work(settings) as session:
        town = await make_municipality(session, "0751", "Aarhus Kommune", {"8000": "Aarhus C"})
        worker = await make_user(
            session, "sag@aarhus.dk", Role.CASE_WORKER, municipality_id=town.id
        )
        totp_secret = await auth_service.begin_totp_setup(session, settings=settings, user=worker)
        actor = auth_service.actor_for(worker)
        year = vouchers.today_in_copenhagen().year
        for y in (year - 1, year, year + 1):
            await vouchers.set_copayment_cap(
                session, actor=None, municipality_id=town.id, year=y, cap_ore=6500
            )
        start = vouchers.today_in_copenhagen() - timedelta(days=21)
        start -= timedelta(days=start.weekday())
        for n, cpr in enumerate(CPRS):
            citizen = await vouchers.create_citizen(
                session,
                actor=actor,
                secret_key=settings.secret_key.get_secret_value(),
                details=CitizenDetails(
                    full_name=f"Borger {n}", cpr=cpr, address="Skolegade 1", postal_code="8000"
                ),
            )
            await vouchers.grant_voucher(
                session,
                actor=actor,
                citizen_id=citizen.id,
                terms=GrantTerms(
                    units_per_week=7,
                    valid_from=start,
                    valid_to=start + timedelta(days=55),
                    copayment_ore=6000,
                ),
            )
        await vouchers.close_past_weeks(session, actor=actor)
    return totp_secret
