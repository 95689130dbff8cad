"""Fixtures for the vouchers tests: co-payment caps, a case worker, citizens and grants."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth import service as auth_service
from market.auth.permissions import Actor
from tests.conftest import TEST_SECRET
from tests.factories import World
from vouchers import service
from vouchers.models import Citizen, LedgerTransfer, VoucherAccount, VoucherGrant
from vouchers.schemas import CitizenDetails, GrantTerms

CPR = "010145-1234"


def next_monday(after: date | None = None) -> date:
    day = after or service.today_in_copenhagen()
    return day + timedelta(days=7 - day.weekday())


@pytest.fixture
def monday() -> date:
    """A Monday in the future, so reservations are never for a day that has passed."""
    return next_monday()


@pytest.fixture
async def caps(session: AsyncSession, world: World) -> None:
    year = service.today_in_copenhagen().year
    for municipality in (world.municipality, world.other_municipality):
        assert municipality.id is not None
        for y in (2024, year, year + 1, year + 2):
            await service.set_copayment_cap(
                session,
                actor=None,
                municipality_id=municipality.id,
                year=y,
                cap_ore=6100 if y == 2024 else 6500,
            )


@pytest.fixture
def case_worker(world: World) -> Actor:
    return auth_service.actor_for(world.user("case_worker"))


async def make_citizen(
    session: AsyncSession,
    actor: Actor,
    *,
    cpr: str = CPR,
    name: str = "Karen Jensen",
    postal_code: str = "8000",
    email: str | None = None,
) -> Citizen:
    return await service.create_citizen(
        session,
        actor=actor,
        secret_key=TEST_SECRET,
        details=CitizenDetails(
            full_name=name,
            cpr=cpr,
            address="Skolegade 1, 2. th.",
            postal_code=postal_code,
            email=email,
        ),
    )


def terms(
    start: date, weeks: int = 4, units: int = 7, copayment_ore: int = 6000, **kw
) -> GrantTerms:
    return GrantTerms(
        units_per_week=units,
        valid_from=start,
        valid_to=start + timedelta(days=7 * weeks - 1),
        copayment_ore=copayment_ore,
        **kw,
    )


async def make_grant(
    session: AsyncSession, actor: Actor, citizen: Citizen, start: date, **kw
) -> VoucherGrant:
    assert citizen.id is not None
    return await service.grant_voucher(
        session, actor=actor, citizen_id=citizen.id, terms=terms(start, **kw)
    )


@pytest.fixture
async def citizen(session: AsyncSession, world: World, caps: None, case_worker: Actor) -> Citizen:
    made = await make_citizen(session, case_worker)
    await session.commit()  # a savepoint: keeps the setup when a request rolls back
    return made


async def ledger_snapshot(session: AsyncSession) -> tuple:
    """Everything that could change in the ledger, for 'nothing changed' checks."""
    transfers = (
        await session.execute(select(func.count()).select_from(LedgerTransfer))
    ).scalar_one()
    balances = (
        await session.execute(
            select(VoucherAccount.id, VoucherAccount.balance).order_by(VoucherAccount.id)
        )
    ).all()
    grants = (
        await session.execute(
            select(VoucherGrant.id, VoucherGrant.status, VoucherGrant.valid_to).order_by(
                VoucherGrant.id
            )
        )
    ).all()
    return transfers, [tuple(b) for b in balances], [tuple(g) for g in grants]
