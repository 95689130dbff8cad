"""Demo data for co-production (called by market.demo.seed after orders): an
approved association in Aarhus with a coordinator, a volunteer matched with
Karen (visits planned on her meal days), a shared meal with her seat booked,
and a second association waiting for the municipality's approval."""

from datetime import time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from market.auth import service as auth_service
from market.auth.models import User
from market.community import service
from market.config import Settings
from market.municipalities.models import Municipality
from vouchers import service as vouchers

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
    registered = await service.register_partner(
        session,
        registration=service.PartnerRegistration(
            municipality_id=aarhus.id,
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
            municipality_id=aarhus.id,
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
    coordinator_user = await auth_service.get_user(session, user_id=registered.coordinator.user_id)
    coordinator = auth_service.actor_for(coordinator_user)
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
    volunteer = await service.add_volunteer(
        session,
        actor=coordinator,
        full_name="Villy Frivillig",
        email=VOLUNTEER_EMAIL,
        settings=settings,
        password=password,
    )
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
    assert karen.id is not None and companion.id is not None and shared.id is not None
    karen_actor = auth_service.actor_for(
        await auth_service.get_user(session, user_id=karen.user_id)
    )
    request = await service.ask_for_companion(
        session,
        actor=karen_actor,
        citizen_id=karen.id,
        activity_id=companion.id,
        weekdays=[1, 2, 3, 4, 5],
        wishes="Gerne en, der kan lide at snakke om haven.",
    )
    assert request.id is not None and volunteer.member.id is not None
    await service.propose_volunteer(
        session, actor=coordinator, request_id=request.id, member_id=volunteer.member.id
    )
    await service.answer_proposal(
        session,
        actor=karen_actor,
        request_id=request.id,
        accept=True,
        observations_consented=True,
    )
    await service.book_seat(session, actor=karen_actor, citizen_id=karen.id, activity_id=shared.id)
    return [
        ("association coordinator, Aarhus (Spisevenner)", COORDINATOR_EMAIL),
        ("volunteer, matched with Karen", VOLUNTEER_EMAIL),
        ("association waiting for approval, Aarhus", "spiseklub@kirken-viby.example"),
    ]
