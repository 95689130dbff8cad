"""The rules about citizens: registering one (with their CPR number, kept
encrypted and as a keyed hash), finding them, opening their record, and the one
rule of who may act for a citizen (``acting_for_citizen``)."""

import dataclasses
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, bindparam, false
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped

from market import crypto
from market.audit import service as audit
from market.auth import service as auth_service
from market.auth.models import Role, User
from market.auth.permissions import Actor
from market.clock import today as today_in_copenhagen
from market.db import utcnow
from market.dietary import Allergen, DietForm
from market.errors import N_
from market.municipalities import service as municipalities
from vouchers.citizens import repository
from vouchers.citizens.cpr import cpr_hash, looks_like_cpr, mask_cpr, parse_cpr
from vouchers.exceptions import (
    BadInput,
    CitizenExists,
    CitizenNotFound,
    GrantNotFound,
    NotYourCitizen,
    SearchTooLong,
)
from vouchers.grants import repository as grants_repository
from vouchers.ledger import repository as ledger_repository
from vouchers.ledger.weeks import iso_week_of
from vouchers.letters import repository as letters_repository
from vouchers.models import (
    AccountKind,
    Citizen,
    ProxyLink,
    VoucherGrant,
)
from vouchers.schemas import CitizenDetails

CITIZEN_LOGIN_DOMAIN = "borger.velfaerd.invalid"

# --- citizens ------------------------------------------------------------------


def staff_scope(actor: Actor, municipality_id: int) -> None:
    if actor.municipality_id is None or actor.municipality_id != municipality_id:
        raise CitizenNotFound()


async def citizen_for_staff(session: AsyncSession, actor: Actor, citizen_id: int) -> Citizen:
    citizen = await repository.get_citizen(session, citizen_id)
    if citizen is None:
        raise CitizenNotFound()
    staff_scope(actor, citizen.municipality_id)
    return citizen


async def citizen_in_scope(session: AsyncSession, *, actor: Actor, citizen_id: int) -> int:
    """For a form about a citizen: the citizen exists and is the actor's
    municipality's (else 404), without reading the record itself."""
    citizen = await citizen_for_staff(session, actor, citizen_id)
    assert citizen.id is not None
    return citizen.id


async def grant_in_scope(session: AsyncSession, *, actor: Actor, grant_id: int) -> VoucherGrant:
    """For a form about a grant: the actor's municipality's grant, else 404."""
    grant = await grants_repository.get_grant(session, grant_id)
    if grant is None or actor.municipality_id != grant.municipality_id:
        raise GrantNotFound()
    return grant


def checked_allergens(values: tuple[Allergen, ...] | list[str]) -> list[str]:
    try:
        return sorted({Allergen(v).value for v in values})
    except ValueError as exc:
        raise BadInput(N_("Allergies must be among the 14 EU allergens.")) from exc


def _login_for(municipality_id: int) -> str:
    return f"borger-{municipality_id}-{secrets.randbelow(10**8):08d}@{CITIZEN_LOGIN_DOMAIN}"


async def create_citizen(
    session: AsyncSession, *, actor: Actor, secret_key: str, details: CitizenDetails
) -> Citizen:
    if actor.municipality_id is None:
        raise CitizenNotFound()
    municipality_id = actor.municipality_id
    if not details.full_name.strip():
        raise BadInput(N_("Please give the citizen's full name."))
    if not details.address.strip():
        raise BadInput(N_("Please give the citizen's address."))
    digits, born = parse_cpr(details.cpr)
    postal = await municipalities.check_postal_codes(
        session, municipality_id=municipality_id, codes=[details.postal_code]
    )
    if len(postal) != 1:
        raise BadInput(N_("Please give the citizen's postal code."))
    if details.language not in ("da", "en"):
        raise BadInput(N_("The language must be Danish or English."))
    hashed = cpr_hash(secret_key, digits)
    if await repository.find_citizen_by_cpr_hash(session, municipality_id, hashed) is not None:
        raise CitizenExists()
    allergies = checked_allergens(details.allergies)
    user = await auth_service.create_user(
        session,
        actor=actor,
        email=details.email.strip()
        if details.email and details.email.strip()
        else _login_for(municipality_id),
        full_name=details.full_name,
        password=None,
        role=Role.CITIZEN,
        municipality_id=municipality_id,
    )
    assert user.id is not None
    citizen = await repository.add(
        session,
        Citizen(
            municipality_id=municipality_id,
            user_id=user.id,
            full_name=details.full_name.strip(),
            cpr_encrypted=crypto.encrypt(secret_key, digits),
            cpr_hash=hashed,
            birth_date=born,
            address=details.address.strip(),
            postal_code=postal[0],
            phone=(details.phone or "").strip() or None,
            language=details.language,
            diet_form=DietForm(details.diet_form),
            diet_notes=details.diet_notes.strip(),
            allergies=allergies,
            contact_name=(details.contact_name or "").strip() or None,
            contact_phone=(details.contact_phone or "").strip() or None,
        ),
    )
    assert citizen.id is not None
    await audit.record(
        session,
        actor=actor,
        action="citizen.created",
        entity_type="citizen",
        entity_id=citizen.id,
        municipality_id=municipality_id,
        data={"user_id": user.id, "postal_code": citizen.postal_code},
    )
    return citizen


# Names and addresses are far shorter; a longer text is a mistake (or an attack
# on the LIKE pattern), not a search.
SEARCH_MAX_CHARS = 100


async def search_citizens(
    session: AsyncSession, *, actor: Actor, secret_key: str, query: str
) -> list[Citizen]:
    """By name, address or postal code; a CPR number finds exactly that person."""
    if actor.municipality_id is None:
        return []
    text = query.strip()
    if len(text) > SEARCH_MAX_CHARS:
        raise SearchTooLong(SEARCH_MAX_CHARS)
    if looks_like_cpr(text):
        digits, _ = parse_cpr(text)
        found = await repository.find_citizen_by_cpr_hash(
            session, actor.municipality_id, cpr_hash(secret_key, digits)
        )
        return [found] if found else []
    return list(await repository.search_citizens(session, actor.municipality_id, text))


@dataclass
class CitizenRecord:
    citizen: Citizen
    user: User
    grants: list[VoucherGrant]
    proxies: list[tuple[ProxyLink, User]]
    letter_code_expires_at: datetime | None
    cpr_masked: str
    this_week: dict[int, dict[str, int]] = field(default_factory=dict)


async def open_citizen_record(
    session: AsyncSession, *, actor: Actor, citizen_id: int
) -> CitizenRecord:
    """A staff member opens a citizen's record: always an audit event."""
    citizen = await citizen_for_staff(session, actor, citizen_id)
    record = await _record(session, citizen)
    await audit.record(
        session,
        actor=actor,
        action="citizen.viewed",
        entity_type="citizen",
        entity_id=citizen_id,
        municipality_id=citizen.municipality_id,
    )
    return record


async def _record(session: AsyncSession, citizen: Citizen) -> CitizenRecord:
    assert citizen.id is not None
    user = await repository.get_user(session, citizen.user_id)
    assert user is not None
    grants = list(await grants_repository.grants_of_citizen(session, citizen.id))
    week = iso_week_of(today_in_copenhagen())
    balances = await ledger_repository.week_balances(
        session, [g.id for g in grants if g.id], [week]
    )
    this_week = {
        g.id: {
            kind.value: balances.get((g.id, kind.value, week), 0)
            for kind in (AccountKind.AVAILABLE, AccountKind.RESERVED, AccountKind.REDEEMED)
        }
        for g in grants
        if g.id is not None
    }
    code = await letters_repository.open_letter_code(session, citizen.user_id, utcnow())
    return CitizenRecord(
        citizen=citizen,
        user=user,
        grants=grants,
        proxies=await repository.proxies_of(session, citizen.id),
        letter_code_expires_at=code.expires_at if code else None,
        cpr_masked=mask_cpr(citizen.birth_date),
        this_week=this_week,
    )


# --- who may act for a citizen -----------------------------------------------------
# The one home of the rule. A citizen acts only for themself; a proxy only for the
# citizens they are linked to now; staff for the citizens of their municipality.
# ``acting_for_citizen`` answers it for a named citizen (the ordering flow);
# ``own_citizen`` answers a signed-in citizen's or proxy's "whose pages are these"
# ("my voucher", co-payment statements, the ordering pages).


async def own_citizen(
    session: AsyncSession, *, actor: Actor, citizen_id: int | None
) -> tuple[Citizen | None, list[Citizen]]:
    """The citizen a signed-in citizen or proxy acts for, and the citizens a proxy
    may choose from. A citizen: themself (``citizen_id`` may only name them). A
    proxy: the citizen named, if linked now; with none named, the only one they
    are linked to, or None and the list to choose from. Anyone else, or a citizen
    not theirs: NotYourCitizen."""
    if actor.role == Role.CITIZEN:
        citizen = await repository.get_citizen_by_user(session, actor.user_id)
        if citizen is None or (citizen_id is not None and citizen.id != citizen_id):
            raise NotYourCitizen()
        return citizen, []
    if actor.role == Role.PROXY:
        linked = list(await repository.citizens_of_proxy(session, actor.user_id))
        if citizen_id is None:
            return (linked[0], linked) if len(linked) == 1 else (None, linked)
        for citizen in linked:
            if citizen.id == citizen_id:
                return citizen, linked
    raise NotYourCitizen()


async def acting_for_citizen(session: AsyncSession, *, actor: Actor, citizen_id: int) -> Actor:
    """For the ordering flow: may this actor act for this citizen? Returns the
    actor to record (a proxy or case worker acting on the citizen's behalf), or
    raises NotFound. Staff: same municipality; a citizen: only themself; a
    proxy: only citizens they are linked to now."""
    citizen = await repository.get_citizen(session, citizen_id)
    if citizen is None:
        raise CitizenNotFound()
    assert citizen.id is not None
    linked = (
        actor.role == Role.PROXY
        and await repository.active_link(session, citizen.id, actor.user_id) is not None
    )
    return acting_for_read_citizen(actor, citizen, proxy_linked=linked)


def acting_for_read_citizen(actor: Actor, citizen: Citizen, *, proxy_linked: bool) -> Actor:
    """``acting_for_citizen``'s rule over a citizen the caller has read, with
    whether the actor, when a proxy, is linked to them now (the ordering flow
    reads both in its one statement; ``proxy_link_now`` is the condition)."""
    if actor.role == Role.CITIZEN:
        if citizen.user_id != actor.user_id:
            raise CitizenNotFound()
        return actor
    if actor.role == Role.PROXY:
        if not proxy_linked:
            raise NotYourCitizen()
    else:
        staff_scope(actor, citizen.municipality_id)
    return dataclasses.replace(actor, on_behalf_of_user_id=citizen.user_id)


# --- for the ordering flow ------------------------------------------------------


async def citizen_for_ordering(
    session: AsyncSession, *, actor: Actor, citizen_id: int | None
) -> tuple[Citizen, Actor]:
    """The citizen an order is for and the actor to record. A citizen may leave
    citizen_id out (they order for themself); everyone else names the citizen.
    Reads what ``citizen_for_ordering_read`` (the rule) needs."""
    citizen: Citizen | None = None
    linked = False
    if citizen_id is None:
        if actor.role == Role.CITIZEN:
            citizen = await repository.get_citizen_by_user(session, actor.user_id)
    else:
        citizen = await repository.get_citizen(session, citizen_id)
        linked = (
            citizen is not None
            and actor.role == Role.PROXY
            and await repository.active_link(session, citizen_id, actor.user_id) is not None
        )
    return citizen_for_ordering_read(
        actor, citizen_id=citizen_id, citizen=citizen, proxy_linked=linked
    )


def citizen_for_ordering_read(
    actor: Actor, *, citizen_id: int | None, citizen: Citizen | None, proxy_linked: bool
) -> tuple[Citizen, Actor]:
    """``citizen_for_ordering`` over what the caller has read in its own statement:
    the citizen named (``citizen_id``), or with none named the actor's own
    citizen row, and whether a proxy actor is linked to them now."""
    if citizen_id is None:
        if actor.role != Role.CITIZEN:
            raise BadInput(N_("Say which citizen the order is for."))
        if citizen is None or citizen.user_id != actor.user_id:
            raise CitizenNotFound()
        return citizen, actor
    if citizen is None or citizen.id != citizen_id:
        raise CitizenNotFound()
    return citizen, acting_for_read_citizen(actor, citizen, proxy_linked=proxy_linked)


@dataclass(frozen=True)
class OrderingLookup:
    """How a caller's one read finds the citizen ``citizen_for_ordering_read``
    wants: its shape (``named``: by the id named, else the actor's own row;
    ``proxy``: whether to ask if the actor is linked to them now) and the values
    of its parameters. The shape alone decides the SQL, so a caller may build
    the statement once per shape."""

    named: bool
    proxy: bool
    params: dict[str, int]


def ordering_lookup(actor: Actor, *, citizen_id: int | None) -> OrderingLookup:
    return OrderingLookup(
        named=citizen_id is not None,
        proxy=actor.role == Role.PROXY,
        params={
            "ordering_citizen": actor.user_id if citizen_id is None else citizen_id,
            "ordering_proxy_user": actor.user_id,
        },
    )


def ordering_citizen_filter(*, named: bool) -> ColumnElement[bool]:
    """The citizen row of an ``OrderingLookup`` of this shape."""
    who = bindparam("ordering_citizen", type_=Integer)
    return repository.is_citizen(who) if named else repository.is_citizen_of_user(who)


def proxy_link_now(
    citizen_id: ColumnElement[Any] | Mapped[Any], *, proxy: bool
) -> ColumnElement[bool]:
    """Whether the proxy of an ``OrderingLookup`` is linked now to the citizen of
    ``citizen_id``, as SQL (false when the actor is no proxy)."""
    if not proxy:
        return false()
    return repository.active_link_exists(
        citizen_id, bindparam("ordering_proxy_user", type_=Integer)
    )


async def get_citizen(session: AsyncSession, *, citizen_id: int) -> Citizen:
    """For notices that must reach the citizen's contact (e.g. a welfare alert)."""
    citizen = await repository.get_citizen(session, citizen_id)
    if citizen is None:
        raise CitizenNotFound()
    return citizen


# --- batch look-ups for the ordering flow (kitchen lists, alert queue) ---
# The caller decides who may see whom: market.orders passes only the citizens
# and grants of orders the actor's provider or municipality already holds.


async def citizens_by_ids(session: AsyncSession, *, citizen_ids: list[int]) -> dict[int, Citizen]:
    return await repository.citizens_by_ids(session, citizen_ids)
