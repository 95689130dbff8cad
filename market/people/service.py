"""People: inviting staff, their roles, closing accounts, a colleague's second
factor, and forgotten passwords. Invitation and reset links are single use,
expire, and are stored only as hashes; every link is checked by ``check_token``."""

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from market import crypto
from market.audit import service as audit
from market.auth import repository as auth_repository
from market.auth import security
from market.auth import service as auth_service
from market.auth.exceptions import WeakPassword
from market.auth.models import MUNICIPAL_STAFF_ROLES, PROVIDER_ROLES, Role, User
from market.auth.permissions import Actor
from market.config import Settings
from market.db import utcnow
from market.errors import N_, InvalidInput
from market.municipalities import service as municipalities
from market.outbox import service as outbox
from market.people import repository
from market.people.exceptions import LinkNotValid, NotOnYourself, PersonNotFound, RoleNotAllowed
from market.people.models import TokenPurpose, UserToken

# Whose password can be reset by e-mail. Citizens and their proxies call the
# municipality instead, whose case worker re-issues the welcome letter.
RESETTABLE_ROLES = MUNICIPAL_STAFF_ROLES | PROVIDER_ROLES | {Role.PLATFORM_ADMIN}
RESET_RESEND_AFTER = timedelta(minutes=1)

ROLE_LABELS = {
    Role.CASE_WORKER: N_("Case worker"),
    Role.MUNICIPAL_ADMIN: N_("Municipal administrator"),
    Role.AUDITOR: N_("Auditor"),
    Role.PROVIDER_STAFF: N_("Kitchen staff"),
    Role.PROVIDER_ADMIN: N_("Provider administrator"),
}


def invitable_roles(actor: Actor | None) -> frozenset[Role]:
    """The roles this actor may give (None: the command line, a platform admin)."""
    if actor is None:
        return MUNICIPAL_STAFF_ROLES | PROVIDER_ROLES
    if actor.role == Role.PLATFORM_ADMIN:
        return frozenset({Role.MUNICIPAL_ADMIN})
    if actor.role == Role.MUNICIPAL_ADMIN:
        return MUNICIPAL_STAFF_ROLES
    if actor.role == Role.PROVIDER_ADMIN:
        return PROVIDER_ROLES
    return frozenset()


def _in_scope(actor: Actor, user: User) -> bool:
    if actor.role == Role.PLATFORM_ADMIN:
        return user.role in MUNICIPAL_STAFF_ROLES
    if actor.role == Role.MUNICIPAL_ADMIN:
        return user.role in MUNICIPAL_STAFF_ROLES and user.municipality_id == actor.municipality_id
    if actor.role == Role.PROVIDER_ADMIN:
        return user.role in PROVIDER_ROLES and user.provider_id == actor.provider_id
    return False


async def _colleague(session: AsyncSession, actor: Actor, user_id: int) -> User:
    user = await auth_repository.get_user(session, user_id)
    if user is None or not _in_scope(actor, user):
        raise PersonNotFound()
    if user.id == actor.user_id:
        raise NotOnYourself()
    return user


async def hash_password_off_loop(password: str) -> str:
    """A new password, checked for length, hashed off the event loop."""
    if len(password) < auth_service.MIN_PASSWORD_LENGTH:
        raise WeakPassword()
    return await security.hash_password_off_loop(password)


# --- single-use links ------------------------------------------------------------


def link(settings: Settings, purpose: TokenPurpose, token: str) -> str:
    path = "invitation" if purpose == TokenPurpose.INVITATION else "password-reset"
    return f"{settings.mail_link_base}/{path}/{token}"


async def _issue_token(
    session: AsyncSession,
    *,
    user_id: int,
    purpose: TokenPurpose,
    lifetime: timedelta,
    created_by: int | None,
) -> str:
    """A new link for ``user_id``; earlier unused links of the same kind stop working."""
    await repository.delete_open_tokens(session, user_id, purpose)
    token = crypto.new_token()
    await repository.add_token(
        session,
        UserToken(
            purpose=purpose,
            token_hash=crypto.token_hash(token),
            user_id=user_id,
            created_by_user_id=created_by,
            expires_at=utcnow() + lifetime,
        ),
    )
    return token


async def check_token(
    session: AsyncSession, *, token: str, purpose: TokenPurpose
) -> tuple[UserToken, User]:
    """The one place a link is checked: known, of this kind, unused, unexpired, and
    its account open. Every failure is the same ``LinkNotValid``."""
    found = await repository.get_token(session, crypto.token_hash(token.strip()), purpose)
    if found is None:
        raise LinkNotValid()
    user_token, user = found
    if user_token.used_at is not None or user_token.expires_at <= utcnow() or not user.is_active:
        raise LinkNotValid()
    return user_token, user


async def _use_token(session: AsyncSession, user_token: UserToken) -> None:
    assert user_token.id is not None
    if not await repository.use_token(session, user_token.id, utcnow()):
        raise LinkNotValid()


# --- invitations -----------------------------------------------------------------


@dataclass
class Invitation:
    user: User
    link: str
    emailed: bool


async def invite(
    session: AsyncSession,
    *,
    settings: Settings,
    actor: Actor | None,
    email: str,
    role: Role,
    full_name: str = "",
    municipality_id: int | None = None,
    provider_id: int | None = None,
) -> Invitation:
    """Creates the account without a password and e-mails a single-use link.
    A municipal or provider admin invites into their own organisation; a platform
    admin (or the command line) names the municipality or provider."""
    if role not in invitable_roles(actor):
        raise RoleNotAllowed()
    if actor is not None and actor.role != Role.PLATFORM_ADMIN:
        municipality_id, provider_id = actor.municipality_id, actor.provider_id
    if role in MUNICIPAL_STAFF_ROLES:
        provider_id = None
        if municipality_id is None:
            raise InvalidInput(N_("Choose the municipality the person works for."))
        municipality = await municipalities.get(session, municipality_id=municipality_id)
        organisation = municipality.name
    else:
        municipality_id = None
        if provider_id is None:
            raise InvalidInput(N_("Choose the provider the person works for."))
        organisation = ""
    email = auth_service.normalise_email(email)
    user = await auth_service.create_user(
        session,
        actor=actor,
        email=email,
        full_name=full_name.strip() or email,
        password=None,
        role=role,
        municipality_id=municipality_id,
        provider_id=provider_id,
    )
    assert user.id is not None
    token = await _issue_token(
        session,
        user_id=user.id,
        purpose=TokenPurpose.INVITATION,
        lifetime=timedelta(hours=settings.invitation_valid_hours),
        created_by=actor.user_id if actor else None,
    )
    url = link(settings, TokenPurpose.INVITATION, token)
    emailed = await _send_invitation(session, settings, user, url, organisation)
    await audit.record(
        session,
        actor=actor,
        action="user.invited",
        entity_type="user",
        entity_id=user.id,
        municipality_id=municipality_id,
        data={"email": email, "role": role, "provider_id": provider_id, "emailed": emailed},
    )
    return Invitation(user=user, link=url, emailed=emailed)


async def _send_invitation(
    session: AsyncSession, settings: Settings, user: User, url: str, organisation: str
) -> bool:
    hours = settings.invitation_valid_hours
    where = f" hos {organisation}" if organisation else ""
    where_en = f" at {organisation}" if organisation else ""
    return await outbox.enqueue_email(
        session,
        settings=settings,
        idempotency_key=f"invitation:{user.id}:{crypto.new_token(nbytes=8)}",
        to=[user.email],
        subject="Invitation til Velfærdsmarked / Invitation to Velfærdsmarked",
        body=(
            f"Du er inviteret til Velfærdsmarked{where}.\n"
            f"Åbn linket, skriv dit navn og vælg en adgangskode:\n{url}\n"
            f"Linket virker én gang og i {hours} timer.\n\n"
            f"You are invited to Velfærdsmarked{where_en}.\n"
            f"Open the link, give your name and choose a password:\n{url}\n"
            f"The link works once and for {hours} hours.\n"
        ),
    )


async def reinvite(
    session: AsyncSession, *, settings: Settings, actor: Actor, user_id: int
) -> Invitation:
    """A new link for someone who has not accepted yet; the old link stops working."""
    user = await _colleague(session, actor, user_id)
    if user.password_hash is not None or not user.is_active:
        raise InvalidInput(N_("This person has already accepted the invitation."))
    assert user.id is not None
    token = await _issue_token(
        session,
        user_id=user.id,
        purpose=TokenPurpose.INVITATION,
        lifetime=timedelta(hours=settings.invitation_valid_hours),
        created_by=actor.user_id,
    )
    url = link(settings, TokenPurpose.INVITATION, token)
    organisation = ""
    if user.municipality_id is not None:
        municipality = await municipalities.get(session, municipality_id=user.municipality_id)
        organisation = municipality.name
    emailed = await _send_invitation(session, settings, user, url, organisation)
    await audit.record(
        session,
        actor=actor,
        action="user.reinvited",
        entity_type="user",
        entity_id=user.id,
        municipality_id=user.municipality_id,
        data={"emailed": emailed},
    )
    return Invitation(user=user, link=url, emailed=emailed)


async def invitation_for(session: AsyncSession, *, token: str) -> User:
    """Who an invitation link is for (to greet them on the form); uses nothing up."""
    _, user = await check_token(session, token=token, purpose=TokenPurpose.INVITATION)
    return user


async def accept_invitation(
    session: AsyncSession, *, token: str, full_name: str, password: str | None
) -> User:
    """Uses the invitation: sets the person's name and, unless they sign in some
    other way (``password=None``, e.g. an identity provider binding the account),
    their password. The caller signs them in."""
    user_token, user = await check_token(session, token=token, purpose=TokenPurpose.INVITATION)
    name = full_name.strip()
    if not name or len(name) > 200:
        raise InvalidInput(N_("Please give the person's full name."))
    values: dict[str, object] = {"full_name": name}
    if password is not None:
        values["password_hash"] = await hash_password_off_loop(password)
    await _use_token(session, user_token)
    assert user.id is not None
    await repository.set_user(session, user.id, **values)
    await audit.record(
        session,
        actor=auth_service.actor_for(user),
        action="user.invitation_accepted",
        entity_type="user",
        entity_id=user.id,
        municipality_id=user.municipality_id,
        data={"with_password": password is not None},
    )
    refreshed = await repository.refreshed_user(session, user.id)
    assert refreshed is not None
    return refreshed


async def sign_in(session: AsyncSession, *, settings: Settings, user: User) -> tuple[str, bool]:
    """A session for someone who just proved who they are by a link; the second
    factor is still asked for (or set up) where it is required."""
    pending = await auth_service.second_factor_required(session, user=user)
    token = await auth_service.open_session(session, settings=settings, user=user, pending=pending)
    return token, pending


# --- managing colleagues ---------------------------------------------------------


@dataclass
class Person:
    user: User
    invited: bool  # invited, not yet accepted


async def people(
    session: AsyncSession, *, actor: Actor, municipality_id: int | None = None
) -> list[Person]:
    if actor.role == Role.PROVIDER_ADMIN:
        users = await repository.list_people(
            session, roles=PROVIDER_ROLES, provider_id=actor.provider_id
        )
    else:
        if actor.role != Role.PLATFORM_ADMIN:
            municipality_id = actor.municipality_id
        if municipality_id is None:
            return []
        users = await repository.list_people(
            session, roles=MUNICIPAL_STAFF_ROLES, municipality_id=municipality_id
        )
    invited = await repository.open_invitation_user_ids(
        session, [u.id for u in users if u.id is not None]
    )
    return [Person(user=u, invited=u.id in invited and u.password_hash is None) for u in users]


async def change_role(session: AsyncSession, *, actor: Actor, user_id: int, role: Role) -> User:
    user = await _colleague(session, actor, user_id)
    if role not in invitable_roles(actor) or (
        actor.role == Role.PLATFORM_ADMIN and role not in MUNICIPAL_STAFF_ROLES
    ):
        raise RoleNotAllowed()
    if role != user.role:
        await repository.set_user(session, user_id, role=role)
        await audit.record(
            session,
            actor=actor,
            action="user.role_changed",
            entity_type="user",
            entity_id=user_id,
            municipality_id=user.municipality_id,
            data={"from": user.role, "to": role},
        )
    refreshed = await repository.refreshed_user(session, user_id)
    assert refreshed is not None
    return refreshed


async def deactivate(session: AsyncSession, *, actor: Actor, user_id: int) -> None:
    """Closes the account at once: its sessions, API tokens and open links end."""
    user = await _colleague(session, actor, user_id)
    if not user.is_active:
        return
    await repository.set_user(session, user_id, is_active=False)
    await auth_repository.delete_sessions_of(session, user_id)
    await repository.revoke_api_tokens_of(session, user_id, utcnow())
    await repository.delete_open_tokens(session, user_id)
    await audit.record(
        session,
        actor=actor,
        action="user.deactivated",
        entity_type="user",
        entity_id=user_id,
        municipality_id=user.municipality_id,
    )


async def reset_second_factor(session: AsyncSession, *, actor: Actor, user_id: int) -> None:
    """For a colleague who lost their phone: they set the second factor up again
    at their next sign-in. Never one's own (that would undo what it protects)."""
    user = await _colleague(session, actor, user_id)
    await auth_repository.set_totp(session, user_id, secret_encrypted=None, enabled=False)
    await auth_repository.delete_sessions_of(session, user_id)
    await audit.record(
        session,
        actor=actor,
        action="user.second_factor_reset",
        entity_type="user",
        entity_id=user_id,
        municipality_id=user.municipality_id,
        data={"was_enabled": user.totp_enabled},
    )


# --- forgotten passwords ---------------------------------------------------------


async def request_password_reset(session: AsyncSession, *, settings: Settings, email: str) -> None:
    """E-mails a reset link when the address belongs to an open staff or provider
    account with a password. The caller answers the same either way, and no
    sooner than ``settings.password_reset_answer_seconds`` (``answer_evenly``)."""
    address = email.strip().lower()
    user = await auth_repository.get_user_by_email(session, address) if address else None
    if (
        user is None
        or user.id is None
        or not user.is_active
        or user.password_hash is None
        or user.role not in RESETTABLE_ROLES
    ):
        return
    latest = await repository.latest_open_token_at(session, user.id, TokenPurpose.PASSWORD_RESET)
    if latest is not None and latest > utcnow() - RESET_RESEND_AFTER:
        return  # one e-mail a minute at most: asking again and again floods nobody's inbox
    token = await _issue_token(
        session,
        user_id=user.id,
        purpose=TokenPurpose.PASSWORD_RESET,
        lifetime=timedelta(minutes=settings.password_reset_valid_minutes),
        created_by=None,
    )
    url = link(settings, TokenPurpose.PASSWORD_RESET, token)
    minutes = settings.password_reset_valid_minutes
    await outbox.enqueue_email(
        session,
        settings=settings,
        idempotency_key=f"password-reset:{user.id}:{crypto.new_token(nbytes=8)}",
        to=[user.email],
        subject="Ny adgangskode til Velfærdsmarked / New password for Velfærdsmarked",
        body=(
            "Nogen har bedt om en ny adgangskode til din konto. Var det dig, så åbn linket:\n"
            f"{url}\nLinket virker én gang og i {minutes} minutter. "
            "Var det ikke dig, kan du se bort fra denne e-mail.\n\n"
            "Someone asked for a new password for your account. If it was you, open the link:\n"
            f"{url}\nThe link works once and for {minutes} minutes. "
            "If it was not you, ignore this e-mail.\n"
        ),
    )
    await audit.record(
        session,
        actor=None,
        action="auth.password_reset_requested",
        entity_type="user",
        entity_id=user.id,
        municipality_id=user.municipality_id,
    )


async def answer_evenly(settings: Settings, started: float) -> None:
    """Waits until ``password_reset_answer_seconds`` have passed since ``started``
    (a ``time.monotonic()`` reading), hiding how long the look-up took."""
    remaining = settings.password_reset_answer_seconds - (time.monotonic() - started)
    if remaining > 0:
        await asyncio.sleep(remaining)


async def reset_password(session: AsyncSession, *, token: str, password: str) -> User:
    """Sets the new password, uses the link, and ends every session of the
    account (whoever knew the old password is signed out)."""
    user_token, user = await check_token(session, token=token, purpose=TokenPurpose.PASSWORD_RESET)
    password_hash = await hash_password_off_loop(password)
    await _use_token(session, user_token)
    assert user.id is not None
    await repository.set_user(
        session, user.id, password_hash=password_hash, failed_login_count=0, locked_until=None
    )
    await auth_repository.delete_sessions_of(session, user.id)
    await repository.delete_open_tokens(session, user.id, TokenPurpose.PASSWORD_RESET)
    await audit.record(
        session,
        actor=auth_service.actor_for(user),
        action="auth.password_reset",
        entity_type="user",
        entity_id=user.id,
        municipality_id=user.municipality_id,
    )
    refreshed = await repository.refreshed_user(session, user.id)
    assert refreshed is not None
    return refreshed


async def second_factor_now_required(session: AsyncSession, *, municipality_id: int) -> None:
    """When a municipality starts requiring a second factor, staff already signed
    in without one are led to set it up on their next page, not at next sign-in."""
    await repository.ask_second_factor_of_staff_without_one(
        session, municipality_id=municipality_id, roles=MUNICIPAL_STAFF_ROLES
    )
