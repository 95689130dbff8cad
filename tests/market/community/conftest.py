"""An approved association in Aarhus with a coordinator and a volunteer, next to
the orders' kitchen and diner (a citizen with a voucher)."""

from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth import service as auth_service
from market.auth.permissions import Actor
from market.community import service
from market.community.models import CommunityActivity, CommunityMember, CommunityPartner
from tests.factories import World
from tests.market.orders.conftest import Diner, Kitchen, days_ahead, diner, kitchen  # noqa: F401
from tests.vouchers.conftest import caps  # noqa: F401 (fixture)

PASSWORD = "frivillig-password-1"


@dataclass
class Association:
    partner: CommunityPartner
    coordinator: Actor
    volunteer: Actor
    member: CommunityMember
    companion: CommunityActivity
    shared_meal: CommunityActivity


async def register(session: AsyncSession, world: World, name: str, email: str) -> Actor:
    registered = await service.register_partner(
        session,
        registration=service.PartnerRegistration(
            municipality_id=world.municipality.id,
            name=name,
            contact_email=email,
            contact_phone="",
            description="",
            pledges=list(service.COMMUNITY_STANDARD),
            coordinator_name="Kirsten Koordinator",
            coordinator_email=email,
            coordinator_password=PASSWORD,
        ),
    )
    admin = auth_service.actor_for(world.user("admin"))
    await service.decide_partner(
        session, actor=admin, partner_id=registered.partner.id, move="approve"
    )
    user = await auth_service.get_user(session, user_id=registered.coordinator.user_id)
    return auth_service.actor_for(user)


@pytest.fixture
async def association(session: AsyncSession, world: World, settings) -> Association:
    coordinator = await register(session, world, "Spisevennerne", "koordinator@spise.example")
    companion = await service.create_activity(
        session,
        actor=coordinator,
        activity=service.ActivityInput(
            kind="companion", title="Spiseven", weekdays=[1, 2, 3, 4, 5, 6, 7]
        ),
    )
    shared = await service.create_activity(
        session,
        actor=coordinator,
        activity=service.ActivityInput(
            kind="shared_meal",
            title="Fællesspisning",
            place="Medborgerhuset",
            held_on=days_ahead(3),
            starts_at=__import__("datetime").time(12, 0),
            seats=2,
        ),
    )
    added = await service.add_volunteer(
        session,
        actor=coordinator,
        full_name="Villy Frivillig",
        email="villy@spise.example",
        settings=settings,
        password=PASSWORD,
    )
    user = await auth_service.get_user(session, user_id=added.member.user_id)
    view = await service.coordinator_view(session, actor=coordinator)
    await session.commit()
    return Association(
        partner=view.partner,
        coordinator=coordinator,
        volunteer=auth_service.actor_for(user),
        member=added.member,
        companion=companion,
        shared_meal=shared,
    )
