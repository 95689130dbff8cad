"""A provider approved in Aarhus with a menu, and a citizen with a voucher."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth import service as auth_service
from market.auth.permissions import Actor
from providers import service as providers
from providers.models import Approval, Offer
from tests.factories import World
from tests.providers.conftest import actor, approved, publish_standard
from tests.vouchers.conftest import caps, make_citizen, make_grant  # noqa: F401 (fixture)
from vouchers.models import Citizen, VoucherGrant


@dataclass
class Kitchen:
    approval: Approval
    offer: Offer
    staff: Actor
    admin: Actor


@dataclass
class Diner:
    citizen: Citizen
    grant: VoucherGrant
    me: Actor


def days_ahead(n: int) -> date:
    return providers.today() + timedelta(days=n)


@pytest.fixture
async def kitchen(session: AsyncSession, world: World, settings) -> Kitchen:
    std = await publish_standard(session, actor(world, "admin"))
    approval = await approved(session, world, std, settings, daily_capacity=3)
    admin = actor(world, "provider_admin")
    offer = await providers.save_offer(
        session,
        actor=admin,
        settings=settings,
        offer_id=None,
        name="Frikadeller med kartofler",
        description="Hjemmelavede frikadeller, kartofler og brun sovs",
        diet_forms=["normal", "soft"],
        allergens=["eggs", "milk", "gluten"],
        weekdays=[1, 2, 3, 4, 5, 6, 7],
        daily_capacity=None,
    )
    await providers.save_ordering_profile(
        session,
        actor=admin,
        cutoff_days_before=1,
        cutoff_time=time(14, 0),
        window_start=time(11, 0),
        window_end=time(13, 0),
        accept_within_hours=4,
        auto_accept=False,
        webhook_url=None,
    )
    await session.commit()
    return Kitchen(
        approval=approval, offer=offer, staff=actor(world, "provider_staff"), admin=admin
    )


@pytest.fixture
async def diner(session: AsyncSession, world: World, caps: None) -> Diner:  # noqa: F811
    case_worker = auth_service.actor_for(world.user("case_worker"))
    citizen = await make_citizen(session, case_worker, postal_code="8200")
    start = providers.today() - timedelta(days=providers.today().weekday())
    grant = await make_grant(
        session, case_worker, citizen, start, weeks=6, units=7, copayment_ore=6000
    )
    user = await auth_service.get_user(session, user_id=citizen.user_id)
    await session.commit()
    return Diner(citizen=citizen, grant=grant, me=auth_service.actor_for(user))


def on_the_day(day: date) -> datetime:
    """Late morning of the delivery day, when meals go out (nothing goes out before)."""
    from market.clock import local_instant

    return local_instant(day, time(11, 0))


def noon_before(day: date) -> datetime:
    """A moment safely before the 14:00 cut-off the day before delivery."""
    from market.clock import local_instant

    return local_instant(day - timedelta(days=1), time(9, 0))


# --- the citizen side: signing in and a late cut-off -------------------------------

CITIZEN_PASSWORD = "borger-password-123"


async def sign_in_citizen(client, session: AsyncSession, diner: Diner) -> None:
    """Gives the diner's login a password and signs in with it in the client."""
    from sqlalchemy import update

    from market.auth.models import User
    from market.auth.security import hash_password
    from tests.factories import login

    await session.execute(
        update(User)
        .where(User.id == diner.citizen.user_id)
        .values(password_hash=hash_password(CITIZEN_PASSWORD))
    )
    user = await auth_service.get_user(session, user_id=diner.citizen.user_id)
    await session.commit()
    response = await login(client, user.email, CITIZEN_PASSWORD)
    assert response.status_code == 303, response.text


async def late_cutoff(session: AsyncSession, kitchen: Kitchen, settings) -> None:
    """Orders for tomorrow are taken until 23:59 today, so page tests that use the
    real clock can order tomorrow's lunch at any time of day."""
    await providers.save_ordering_profile(
        session,
        actor=kitchen.admin,
        cutoff_days_before=1,
        cutoff_time=time(23, 59),
        window_start=time(11, 0),
        window_end=time(13, 0),
        accept_within_hours=4,
        auto_accept=False,
        webhook_url=None,
    )
    await session.commit()
