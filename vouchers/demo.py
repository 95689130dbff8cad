"""Demo data for this domain (called by market.demo.seed): co-payment caps and
citizens with vouchers in every state, made through the (audited) services."""

import dataclasses
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from market.auth import one_time_codes
from market.auth import service as auth_service
from market.auth.models import User
from market.auth.permissions import Actor
from market.clock import today as today_in_copenhagen
from market.config import Settings
from market.dietary import Allergen, DietForm
from market.municipalities.models import Municipality
from vouchers.citizens import proxies, repository
from vouchers.citizens import service as citizens_service
from vouchers.grants import service as grants_service
from vouchers.ledger import service as ledger_service
from vouchers.letters import service as letters_service
from vouchers.models import Citizen
from vouchers.schemas import CitizenDetails, GrantTerms

# Co-payment caps per year, in øre. 2024 is the statutory cap for a delivered
# main meal (61 kr.); the later figures are placeholders for the demo: the
# real caps must be set by each municipality every year.
CAPS_ORE = {2024: 6100, 2025: 6300, 2026: 6500, 2027: 6700, 2028: 6900}


@dataclasses.dataclass
class _Person:
    name: str
    cpr: str
    address: str
    postal_code: str
    email: str | None = None
    diet: DietForm = DietForm.NORMAL
    allergies: tuple[Allergen, ...] = ()


async def _citizen(
    session: AsyncSession, actor: Actor, settings: Settings, person: _Person, phone: str
) -> Citizen:
    return await citizens_service.create_citizen(
        session,
        actor=actor,
        secret_key=settings.secret_key.get_secret_value(),
        details=CitizenDetails(
            full_name=person.name,
            cpr=person.cpr,
            address=person.address,
            postal_code=person.postal_code,
            phone=phone,
            email=person.email,
            diet_form=person.diet,
            allergies=person.allergies,
            contact_name="Pårørende " + person.name.split()[-1],
            contact_phone="+45 20 30 40 50",
        ),
    )


async def _grant(
    session: AsyncSession,
    actor: Actor,
    citizen: Citizen,
    start: date,
    weeks: int,
    units: int = 7,
    copayment_ore: int = 5500,
    diet: DietForm = DietForm.NORMAL,
) -> int:
    assert citizen.id is not None
    grant = await grants_service.grant_voucher(
        session,
        actor=actor,
        citizen_id=citizen.id,
        terms=GrantTerms(
            units_per_week=units,
            valid_from=start,
            valid_to=start + timedelta(days=7 * weeks - 1),
            copayment_ore=copayment_ore,
            diet_form=diet,
            allergies=tuple(Allergen(a) for a in citizen.allergies),
            reassess_on=start + timedelta(days=7 * weeks - 30),
        ),
    )
    assert grant.id is not None
    return grant.id


async def _give_password(session: AsyncSession, user_id: int, password: str) -> None:
    user = await repository.get_user(session, user_id)
    assert user is not None
    await one_time_codes.set_own_password(
        session, actor=auth_service.actor_for(user), password=password
    )


@dataclasses.dataclass
class _Seeding:
    """What every step of seeding one municipality needs."""

    session: AsyncSession
    actor: Actor
    settings: Settings
    password: str
    town: str
    today: date
    monday: date


async def _seed_municipality(
    session: AsyncSession,
    *,
    municipality: Municipality,
    worker: User,
    people: list[_Person],
    password: str,
    settings: Settings,
) -> list[tuple[str, str]]:
    assert municipality.id is not None
    actor = auth_service.actor_for(worker)
    for year, cap in CAPS_ORE.items():
        await grants_service.set_copayment_cap(
            session, actor=actor, municipality_id=municipality.id, year=year, cap_ore=cap
        )
    today = today_in_copenhagen()
    seeding = _Seeding(
        session=session,
        actor=actor,
        settings=settings,
        password=password,
        town=municipality.name.replace(" Kommune", ""),
        today=today,
        monday=today - timedelta(days=today.weekday()),
    )
    citizens = [
        await _citizen(session, actor, settings, p, f"+45 86 00 00 {i:02d}")
        for i, p in enumerate(people)
    ]
    active, reserved, superseded, revoked, expired, with_proxy, letter = citizens[:7]
    logins = [
        await _seed_used_this_week(seeding, active),
        await _seed_reserved_next_week(seeding, reserved),
    ]
    await _seed_ended(seeding, superseded, revoked, expired)
    logins.append(await _seed_with_proxy(seeding, with_proxy))
    logins.append(await _seed_with_letter(seeding, letter))
    # The weeks that have ended are closed by market.demo once the order
    # history of last month has been placed (the weekly job).
    return logins


async def _seed_used_this_week(s: _Seeding, citizen: Citizen) -> tuple[str, str]:
    """1. An active voucher with meals used this week (today's meal delivered).
    It began ten weeks ago, so last month has meals to settle (market.orders.demo)."""
    grant_id = await _grant(s.session, s.actor, citizen, s.monday - timedelta(days=70), weeks=30)
    await ledger_service.reserve(
        s.session,
        grant_id=grant_id,
        delivery_on=s.today,
        units=1,
        idempotency_key=f"demo:{grant_id}:today",
        actor=s.actor,
        order_ref=f"demo-{grant_id}-1",
    )
    await ledger_service.redeem(
        s.session,
        grant_id=grant_id,
        delivery_on=s.today,
        units=1,
        idempotency_key=f"demo:{grant_id}:today:delivered",
        actor=s.actor,
        order_ref=f"demo-{grant_id}-1",
    )
    await _give_password(s.session, citizen.user_id, s.password)
    return (f"citizen, {s.town} ({citizen.full_name})", await _email(s.session, citizen))


async def _seed_reserved_next_week(s: _Seeding, citizen: Citizen) -> tuple[str, str]:
    """2. A voucher with meals reserved next week."""
    grant_id = await _grant(
        s.session, s.actor, citizen, s.monday, weeks=12, units=5, copayment_ore=4500
    )
    for offset in (7, 8, 9):
        await ledger_service.reserve(
            s.session,
            grant_id=grant_id,
            delivery_on=s.monday + timedelta(days=offset),
            units=1,
            idempotency_key=f"demo:{grant_id}:{offset}",
            actor=s.actor,
            order_ref=f"demo-{grant_id}-{offset}",
        )
    await _give_password(s.session, citizen.user_id, s.password)
    return (f"citizen with reservations, {s.town}", await _email(s.session, citizen))


async def _seed_ended(s: _Seeding, superseded: Citizen, revoked: Citizen, expired: Citizen) -> None:
    """3. A voucher changed two weeks ago (the old one superseded by a new one);
    4. a revoked voucher; 5. an expired voucher."""
    old_id = await _grant(s.session, s.actor, superseded, s.monday - timedelta(days=56), weeks=20)
    await grants_service.supersede_grant(
        s.session,
        actor=s.actor,
        grant_id=old_id,
        terms=GrantTerms(
            units_per_week=10,
            valid_from=s.monday - timedelta(days=14),
            valid_to=s.monday + timedelta(days=7 * 30),
            copayment_ore=5000,
            diet_form=DietForm.SOFT,
        ),
    )
    grant_id = await _grant(s.session, s.actor, revoked, s.monday - timedelta(days=21), weeks=20)
    await grants_service.revoke_grant(
        s.session,
        actor=s.actor,
        grant_id=grant_id,
        reason="Flyttet på plejehjem.",
        ends_on=s.today,
    )
    await _grant(s.session, s.actor, expired, s.monday - timedelta(days=70), weeks=6)


async def _seed_with_proxy(s: _Seeding, citizen: Citizen) -> tuple[str, str]:
    """6. A citizen with a proxy: a relative with their own login."""
    await _grant(
        s.session, s.actor, citizen, s.monday - timedelta(days=70), weeks=30, copayment_ore=6100
    )
    assert citizen.id is not None
    surname = citizen.full_name.split()[-1]
    linked = await proxies.link_proxy(
        s.session,
        actor=s.actor,
        settings=s.settings,
        citizen_id=citizen.id,
        full_name=f"Henrik {surname}",
        email=f"henrik.{_ascii(surname)}@paaroerende-{_ascii(s.town)}.example",
        relation="Søn",
    )
    assert linked.user.id is not None
    await _give_password(s.session, linked.user.id, s.password)
    return (f"proxy (son of {citizen.full_name}), {s.town}", linked.user.email)


async def _seed_with_letter(s: _Seeding, citizen: Citizen) -> tuple[str, str]:
    """7. A citizen without a password, with a welcome letter and a one-time code."""
    await _grant(s.session, s.actor, citizen, s.monday, weeks=26, units=7, copayment_ore=6100)
    assert citizen.id is not None
    code, _ = await letters_service.issue_letter_code(
        s.session, actor=s.actor, settings=s.settings, citizen_id=citizen.id
    )
    return (f"citizen letter code, {s.town} ({citizen.full_name}; /letter-code)", code)


async def _email(session: AsyncSession, citizen: Citizen) -> str:
    user = await repository.get_user(session, citizen.user_id)
    assert user is not None
    return user.email


def _ascii(text: str) -> str:
    return (
        text.lower()
        .replace("æ", "ae")
        .replace("ø", "oe")
        .replace("å", "aa")
        .replace(" ", "")
        .replace("kommune", "")
    )


AARHUS_PEOPLE = [
    _Person(
        "Karen Margrethe Jensen",
        "120338-1014",
        "Nørregade 12, 1. tv.",
        "8000",
        "karen.jensen@borger.example",
        DietForm.NORMAL,
        (Allergen.MILK,),
    ),
    _Person(
        "Poul Erik Andersen",
        "030541-1237",
        "Randersvej 88",
        "8200",
        "poul.andersen@borger.example",
        DietForm.DIABETIC,
    ),
    _Person(
        "Inge Lise Pedersen",
        "250935-1628",
        "Silkeborgvej 210",
        "8210",
        diet=DietForm.SOFT,
        allergies=(Allergen.GLUTEN, Allergen.CELERY),
    ),
    _Person("Jørgen Mikkelsen", "170233-1455", "Gudrunsvej 7", "8220"),
    _Person("Else Marie Christensen", "080830-1822", "Åbyhøjvej 3", "8230", diet=DietForm.PUREED),
    _Person(
        "Aase Sørensen",
        "141128-1960",
        "Strandvejen 41",
        "8240",
        diet=DietForm.MINCED,
        allergies=(Allergen.FISH,),
    ),
    _Person("Svend Aage Larsen", "300436-1173", "Viby Torv 2", "8260"),
]
ODENSE_PEOPLE = [
    _Person(
        "Grethe Hansen",
        "061039-1442",
        "Vestergade 55",
        "5000",
        "grethe.hansen@borger.example",
        DietForm.ENERGY_DENSE,
    ),
    _Person(
        "Bent Rasmussen",
        "220937-1017",
        "Middelfartvej 120",
        "5200",
        "bent.rasmussen@borger.example",
    ),
    _Person("Ruth Madsen", "111134-1508", "Tarupvej 9", "5210", diet=DietForm.SOFT),
    _Person("Knud Olsen", "020232-1339", "Rødegårdsvej 80", "5230"),
    _Person("Ellen Thomsen", "190931-1724", "Bolbrovej 14", "5240"),
    _Person("Edith Poulsen", "050529-1886", "Dalumvej 60", "5250", diet=DietForm.PUREED),
    _Person("Harald Nielsen", "270440-1191", "Kongensgade 20", "5000"),
]


async def seed(
    session: AsyncSession,
    *,
    municipalities: list[Municipality],
    users: dict[str, User],
    password: str,
    settings: Settings,
) -> list[tuple[str, str]]:
    logins: list[tuple[str, str]] = []
    plan = [
        ("sagsbehandler@aarhus.example", AARHUS_PEOPLE),
        ("sagsbehandler@odense.example", ODENSE_PEOPLE),
    ]
    for municipality, (worker_email, people) in zip(municipalities, plan, strict=True):
        worker = users[worker_email]
        logins += await _seed_municipality(
            session,
            municipality=municipality,
            worker=worker,
            people=people,
            password=password,
            settings=settings,
        )
    return logins
