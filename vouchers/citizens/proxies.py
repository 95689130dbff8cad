"""Proxies: relatives or helpers with their own login who act for a citizen.
Staff link and unlink them; a proxy's own CPR number (as a keyed hash only) lets
them sign in with MitID."""

import dataclasses
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.auth import service as auth_service
from market.auth.models import Role, User
from market.auth.permissions import Actor
from market.clock import today as today_in_copenhagen
from market.config import Settings
from market.db import utcnow
from market.errors import N_
from vouchers.citizens import repository
from vouchers.citizens.cpr import cpr_hash, parse_cpr
from vouchers.citizens.service import citizen_for_staff, staff_scope
from vouchers.exceptions import (
    BadInput,
    GrantTransitionRefused,
    ProxyNotFound,
)
from vouchers.grants import repository as grants_repository
from vouchers.letters.service import new_letter_code
from vouchers.models import (
    ProxyIdentity,
    ProxyLink,
)

# --- proxies -------------------------------------------------------------------


@dataclass
class ProxyLinked:
    link: ProxyLink
    user: User
    letter_code: str | None


async def link_proxy(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    citizen_id: int,
    full_name: str,
    email: str,
    relation: str = "",
) -> ProxyLinked:
    """Links a relative or helper with their own login. A new proxy gets a
    one-time code to set their password."""
    citizen = await citizen_for_staff(session, actor, citizen_id)
    assert citizen.id is not None
    email = auth_service.normalise_email(email)
    user = await repository.get_user_by_email(session, email)
    code: str | None = None
    if user is None:
        user = await auth_service.create_user(
            session,
            actor=actor,
            email=email,
            full_name=full_name,
            password=None,
            role=Role.PROXY,
            municipality_id=citizen.municipality_id,
        )
        code, _ = await new_letter_code(
            session, settings=settings, actor=actor, user=user, citizen=citizen
        )
    elif user.role != Role.PROXY or user.municipality_id != citizen.municipality_id:
        raise BadInput(N_("{email} belongs to a user who cannot be a proxy here."), email=email)
    assert user.id is not None
    if await repository.active_link(session, citizen.id, user.id) is not None:
        raise BadInput(N_("{email} is already linked to this citizen."), email=email)
    link = await repository.add(
        session,
        ProxyLink(
            citizen_id=citizen.id,
            proxy_user_id=user.id,
            relation=relation.strip()[:100],
            created_by_user_id=actor.user_id,
        ),
    )
    assert link.id is not None
    await audit.record(
        session,
        actor=dataclasses.replace(actor, on_behalf_of_user_id=citizen.user_id),
        action="proxy.linked",
        entity_type="proxy_link",
        entity_id=link.id,
        municipality_id=citizen.municipality_id,
        data={"citizen_id": citizen.id, "proxy_user_id": user.id, "relation": link.relation},
    )
    return ProxyLinked(link=link, user=user, letter_code=code)


async def unlink_proxy(
    session: AsyncSession, *, actor: Actor, citizen_id: int, link_id: int
) -> ProxyLink:
    citizen = await citizen_for_staff(session, actor, citizen_id)
    link = await repository.get_link(session, link_id)
    if link is None or link.citizen_id != citizen.id:
        raise ProxyNotFound()
    if link.revoked_at is not None:
        raise GrantTransitionRefused("revoked", "revoked")
    link.revoked_at = utcnow()
    await repository.flush(session)
    assert link.id is not None
    await audit.record(
        session,
        actor=dataclasses.replace(actor, on_behalf_of_user_id=citizen.user_id),
        action="proxy.unlinked",
        entity_type="proxy_link",
        entity_id=link.id,
        municipality_id=citizen.municipality_id,
        data={"citizen_id": citizen.id, "proxy_user_id": link.proxy_user_id},
    )
    return link


async def proxy_in_scope(session: AsyncSession, *, actor: Actor | None, proxy_user_id: int) -> User:
    """A proxy's login that staff may act on: one of their municipality's, else 404."""
    user = await repository.get_user(session, proxy_user_id)
    if user is None or user.role != Role.PROXY or user.id is None:
        raise ProxyNotFound()
    if actor is not None:
        assert user.municipality_id is not None
        staff_scope(actor, user.municipality_id)
    return user


async def set_proxy_cpr(
    session: AsyncSession,
    *,
    actor: Actor | None,
    settings: Settings,
    proxy_user_id: int,
    cpr: str,
) -> None:
    """Keeps a proxy's own CPR number as a keyed hash only (never in clear), so
    they can sign in with their own MitID. Staff may do it for a proxy linked to
    a citizen of their municipality; ``actor`` None is the command line."""
    user = await proxy_in_scope(session, actor=actor, proxy_user_id=proxy_user_id)
    assert user.id is not None
    digits, _ = parse_cpr(cpr)
    hashed = cpr_hash(settings.secret_key.get_secret_value(), digits)
    taken = await repository.proxy_by_cpr_hash(session, hashed)
    if taken is not None and taken.user_id != user.id:
        raise BadInput(N_("This CPR number already belongs to another proxy's login."))
    current = await repository.proxy_identity_of(session, user.id)
    if current is not None and current.id is not None:
        await repository.delete_proxy_identity(session, current.id)
        await repository.flush(session)
    await repository.add(
        session,
        ProxyIdentity(
            user_id=user.id,
            cpr_hash=hashed,
            created_by_user_id=actor.user_id if actor else None,
        ),
    )
    await audit.record(
        session,
        actor=actor,
        action="proxy.cpr_recorded",
        entity_type="user",
        entity_id=user.id,
        municipality_id=user.municipality_id,
        data={"replaced": current is not None},
    )


@dataclass
class MitIDMatch:
    """Who a MitID sign-in is, in one municipality: the citizen (and whether they
    hold a voucher now) and/or a proxy with current links there."""

    citizen_user_id: int | None
    citizen_has_voucher: bool
    proxy_user_id: int | None


async def match_mitid(
    session: AsyncSession, *, settings: Settings, municipality_id: int, cpr_digits: str
) -> MitIDMatch:
    """Looks the CPR up by its keyed hash only; the number is not kept."""
    hashed = cpr_hash(settings.secret_key.get_secret_value(), cpr_digits)
    citizen = await repository.find_citizen_by_cpr_hash(session, municipality_id, hashed)
    has_voucher = False
    if citizen is not None and citizen.id is not None:
        has_voucher = (
            await grants_repository.active_grant_on(session, citizen.id, today_in_copenhagen())
            is not None
        )
    proxy_user_id = None
    proxy = await repository.proxy_by_cpr_hash(session, hashed)
    if proxy is not None:
        user = await repository.get_user(session, proxy.user_id)
        linked = await repository.citizens_of_proxy(session, proxy.user_id)
        if (
            user is not None
            and user.is_active
            and user.municipality_id == municipality_id
            and any(c.municipality_id == municipality_id for c in linked)
        ):
            proxy_user_id = user.id
    return MitIDMatch(
        citizen_user_id=citizen.user_id if citizen else None,
        citizen_has_voucher=has_voucher,
        proxy_user_id=proxy_user_id,
    )
