"""Demo data for co-production (called by market.demo.seed after orders): an
approved association in Aarhus with a coordinator, a volunteer matched with
Karen (visits planned on her meal days), a shared meal with her seat booked,
and a second association waiting for the municipality's approval."""

from datetime import time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from market.auth import service as auth_service
from market.auth.models import User
from market.auth.permissions import Actor
from market.community import service
from market.community.models import CommunityActivity
from market.config import Settings
from market.municipalities.models import Municipality
from vouchers import service as vouchers
from vouchers.models import Citizen

PARTNER = "Spisevenner Aarhus Midt"
COORDINATOR_EMAIL = "koordinator@spisevenner.example"
VOLUNTEER_EMAIL = "frivillig@spisevenner.example"
MATCHED_CITIZEN = "Karen Margrethe Jensen"


async def seed(
    session: AsyncSession,
    *,
    municipalities: list[Municipality],
    users: dict[str, User],
    password: str,
    settings: Settings,
) -> list[tuple[str, str]]:
    aarhus = municipalities[0]
    assert aarhus.id is not None
    registered = await _associations(session, aarhus.id, users=users, password=password)
    coordinator_user = await auth_service.get_user(session, user_id=registered.coordinator.user_id)
    coordinator = auth_service.actor_for(coordinator_user)
    companion, shared = await _activities(session, coordinator)
    volunteer = await service.add_volunteer(
        session,
        actor=coordinator,
        full_name="Villy Frivillig",
        email=VOLUNTEER_EMAIL,
        settings=settings,
        password=password,
    )
    karen = await _karen(session, users=users, settings=settings)
    assert karen.id is not None and companion.id is not None and shared.id is not None
    karen_actor = auth_service.actor_for(
        await auth_service.get_user(session, user_id=karen.user_id)
    )
    assert volunteer.member.id is not None
    await _match(
        session,
        citizen=karen_actor,
        coordinator=coordinator,
        citizen_id=karen.id,
        activity_id=companion.id,
        member_id=volunteer.member.id,
    )
    await service.book_seat(session, actor=karen_actor, citizen_id=karen.id, activity_id=shared.id)
    return [
        ("association coordinator, Aarhus (Spisevenner)", COORDINATOR_EMAIL),
        ("volunteer, matched with Karen", VOLUNTEER_EMAIL),
        ("association waiting for approval, Aarhus", "spiseklub@kirken-viby.example"),
    ]


async def _associations(
    session: AsyncSession, municipality_id: int, *, users: dict[str, User], password: str
) -> service.Registered:
    """Spisevenner (approved) and a church's dining club waiting for approval."""
    registered = await service.register_partner(
        session,
        registration=service.PartnerRegistration(
            municipality_id=municipality_id,
            name=PARTNER,
            contact_email="kontakt@spisevenner.example",
            contact_phone="+45 86 12 34 56",
            description="Frivillige spisevenner og fællesspisning i Aarhus C.",
            pledges=list(service.COMMUNITY_STANDARD),
            coordinator_name="Kirsten Koordinator",
            coordinator_email=COORDINATOR_EMAIL,
            coordinator_password=password,
        ),
    )
    assert registered.partner.id is not None
    admin = auth_service.actor_for(users["admin@aarhus.example"])
    await service.decide_partner(
        session, actor=admin, partner_id=registered.partner.id, move="approve"
    )
    await service.register_partner(
        session,
        registration=service.PartnerRegistration(
            municipality_id=municipality_id,
            name="Kirkens Spiseklub Viby",
            contact_email="spiseklub@kirken-viby.example",
            contact_phone="",
            description="Fællesspisning i sognegården hver torsdag.",
            pledges=list(service.COMMUNITY_STANDARD),
            coordinator_name="Peter Præstegaard",
            coordinator_email="spiseklub@kirken-viby.example",
            coordinator_password=password,
        ),
    )
    return registered


async def _activities(
    session: AsyncSession, coordinator: Actor
) -> tuple[CommunityActivity, CommunityActivity]:
    """A meal companion on weekdays and a shared meal in five days."""
    companion = await service.create_activity(
        session,
        actor=coordinator,
        activity=service.ActivityInput(
            kind="companion",
            title="Spiseven til middagen",
            description="En frivillig kommer og spiser med, når maden kommer.",
            postal_code="8000",
            weekdays=[1, 2, 3, 4, 5],
        ),
    )
    today = vouchers.today_in_copenhagen()
    shared = await service.create_activity(
        session,
        actor=coordinator,
        activity=service.ActivityInput(
            kind="shared_meal",
            title="Fællesspisning i Frivilligcentret",
            description="Varm mad og kaffe bagefter. Kom som du er.",
            place="Frivilligcentret, Mejlgade 10, 8000 Aarhus C",
            postal_code="8000",
            held_on=today + timedelta(days=5),
            starts_at=time(12, 0),
            seats=20,
            transport=True,
        ),
    )
    return companion, shared


async def _karen(session: AsyncSession, *, users: dict[str, User], settings: Settings) -> Citizen:
    case_worker = auth_service.actor_for(users["sagsbehandler@aarhus.example"])
    [karen] = [
        c
        for c in await vouchers.search_citizens(
            session,
            actor=case_worker,
            secret_key=settings.secret_key.get_secret_value(),
            query=MATCHED_CITIZEN,
        )
        if c.full_name == MATCHED_CITIZEN
    ]
    return karen


async def _match(
    session: AsyncSession,
    *,
    citizen: Actor,
    coordinator: Actor,
    citizen_id: int,
    activity_id: int,
    member_id: int,
) -> None:
    """Karen asks for a meal companion, is proposed the volunteer and accepts."""
    request = await service.ask_for_companion(
        session,
        actor=citizen,
        citizen_id=citizen_id,
        activity_id=activity_id,
        weekdays=[1, 2, 3, 4, 5],
        wishes="Gerne en, der kan lide at snakke om haven.",
    )
    assert request.id is not None
    await service.propose_volunteer(
        session, actor=coordinator, request_id=request.id, member_id=member_id
    )
    await service.answer_proposal(
        session,
        actor=citizen,
        request_id=request.id,
        accept=True,
        observations_consented=True,
    )
