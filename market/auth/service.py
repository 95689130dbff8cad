"""Users, login with back-off and second factor, sessions and API tokens."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from market import crypto
from market.audit import service as audit
from market.auth import repository, security, throttle
from market.auth.exceptions import (
    ApiTokenExpired,
    EmailTaken,
    InvalidRoleScope,
    LoginBackedOff,
    LoginFailed,
    SecondFactorBackedOff,
    SecondFactorReplayed,
    SecondFactorWrong,
    WeakPassword,
)
from market.auth.models import (
    MUNICIPAL_ROLES,
    MUNICIPAL_STAFF_ROLES,
    PROVIDER_ROLES,
    ApiToken,
    Role,
    User,
    UserSession,
)
from market.auth.permissions import SCOPES_FOR_ROLE, Actor, Permission, TokenScope
from market.auth.security import (
    hash_password_off_loop,
    matching_totp_step,
    new_totp_secret,
)
from market.config import Settings
from market.db import utcnow
from market.errors import N_, InvalidInput, NotFound, PermissionDenied
from market.identity import repository as identity_repository
from market.identity.exceptions import StaffPasswordsSwitchedOff
from market.municipalities import service as municipalities

MIN_PASSWORD_LENGTH = 10
API_TOKEN_PREFIX = "vm_"


def actor_for(
    user: User, *, via_api_token: bool = False, token_scopes: frozenset[TokenScope] | None = None
) -> Actor:
    assert user.id is not None
    if via_api_token and token_scopes is None:
        token_scopes = frozenset()  # a token without scopes may do nothing
    return Actor(
        user_id=user.id,
        role=user.role,
        full_name=user.full_name,
        municipality_id=user.municipality_id,
        provider_id=user.provider_id,
        via_api_token=via_api_token,
        token_scopes=token_scopes,
    )


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254 or email.startswith("@") or email.endswith("@"):
        raise InvalidInput(N_("{email} is not an e-mail address."), email=email or "''")
    return email


async def create_user(
    session: AsyncSession,
    *,
    actor: Actor | None,
    email: str,
    full_name: str,
    password: str | None,
    role: Role,
    municipality_id: int | None = None,
    provider_id: int | None = None,
) -> User:
    email = normalise_email(email)
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword()
    if not full_name.strip():
        raise InvalidInput(N_("Please give the person's full name."))
    if (role in MUNICIPAL_ROLES) != (municipality_id is not None) or (role in PROVIDER_ROLES) != (
        provider_id is not None
    ):
        raise InvalidRoleScope()
    if await repository.get_user_by_email(session, email) is not None:
        raise EmailTaken(email)
    password_hash = await hash_password_off_loop(password) if password else None
    user = await repository.add_user(
        session,
        User(
            email=email,
            full_name=full_name.strip(),
            password_hash=password_hash,
            role=role,
            municipality_id=municipality_id,
            provider_id=provider_id,
        ),
    )
    await audit.record(
        session,
        actor=actor,
        action="user.created",
        entity_type="user",
        entity_id=user.id or 0,
        municipality_id=municipality_id,
        data={"email": email, "role": role, "provider_id": provider_id},
    )
    return user


async def second_factor_required(session: AsyncSession, *, user: User) -> bool:
    if user.totp_enabled:
        return True
    if user.role in MUNICIPAL_STAFF_ROLES and user.municipality_id is not None:
        municipality = await municipalities.get(session, municipality_id=user.municipality_id)
        return municipality.require_staff_totp
    return False


def _backoff_seconds(settings: Settings, failures: int) -> int:
    over = failures - settings.login_backoff_after
    if over < 0:
        return 0
    return min(settings.login_backoff_base_seconds * 2**over, settings.login_backoff_max_seconds)


@dataclass
class LoginResult:
    user: User
    token: str
    second_factor_pending: bool


async def login(
    session: AsyncSession, *, settings: Settings, email: str, password: str
) -> LoginResult:
    """Checks the password, backing off after repeated failures, and opens a new
    session (a new token every time: the session is rotated at login).

    An unknown e-mail address is answered exactly like a wrong password for a
    real one: the same argon2 verification (against a dummy hash, in a worker
    thread like every verification) and the same back-off, counted in
    market.auth.throttle, so neither timing nor a 429 reveals who has an account."""
    address = email.strip().lower()
    user = await repository.get_user_by_email(session, address)
    now = utcnow()
    unknown_key = throttle.key(settings, "login-email", address) if user is None else None
    if user is not None and user.locked_until is not None and user.locked_until > now:
        raise LoginBackedOff(int((user.locked_until - now).total_seconds()) + 1)
    if unknown_key is not None:
        wait = await throttle.seconds_locked(session, key=unknown_key, now=now)
        if wait:
            raise LoginBackedOff(wait)
    password_ok = await run_in_threadpool(
        security.verify_password, user.password_hash if user is not None else None, password
    )
    if user is None or not user.is_active or not password_ok:
        if unknown_key is not None:
            await throttle.record_failure(
                session,
                settings=settings,
                key=unknown_key,
                after=settings.login_backoff_after,
                now=now,
            )
        elif user is not None and user.id is not None:
            failures = await repository.record_failed_login(session, user.id)
            wait = _backoff_seconds(settings, failures)
            if wait:
                await repository.set_locked_until(session, user.id, now + timedelta(seconds=wait))
            await audit.record(
                session,
                actor=None,
                action="auth.login_failed",
                entity_type="user",
                entity_id=user.id,
                municipality_id=user.municipality_id,
                data={"failures": failures},
            )
        raise LoginFailed()
    assert user.id is not None
    if (
        user.role in MUNICIPAL_STAFF_ROLES
        and user.municipality_id is not None
        and not await identity_repository.staff_passwords_allowed(session, user.municipality_id)
    ):
        # Checked after the password, so it tells nothing to someone guessing.
        raise StaffPasswordsSwitchedOff()
    await repository.reset_failed_logins(session, user.id)
    pending = await second_factor_required(session, user=user)
    token = await open_session(session, settings=settings, user=user, pending=pending)
    await audit.record(
        session,
        actor=actor_for(user),
        action="auth.login",
        entity_type="user",
        entity_id=user.id,
        municipality_id=user.municipality_id,
        data={"second_factor_pending": pending},
    )
    return LoginResult(user=user, token=token, second_factor_pending=pending)


async def open_session(
    session: AsyncSession, *, settings: Settings, user: User, pending: bool = False
) -> str:
    """A new server-side session for ``user``; returns the cookie token. Used by
    password login and by other ways of signing in (e.g. a citizen's letter code)."""
    assert user.id is not None
    token = crypto.new_token()
    await repository.add_session(
        session,
        UserSession(
            token_hash=crypto.token_hash(token),
            user_id=user.id,
            second_factor_pending=pending,
            expires_at=utcnow() + timedelta(hours=settings.session_lifetime_hours),
        ),
    )
    return token


async def logout(session: AsyncSession, *, token: str) -> None:
    await repository.delete_session(session, crypto.token_hash(token))


async def resolve_session(session: AsyncSession, *, token: str) -> tuple[UserSession, User] | None:
    found = await repository.get_session_by_hash(session, crypto.token_hash(token))
    if found is None:
        return None
    user_session, user = found
    if user_session.expires_at <= utcnow() or not user.is_active:
        return None
    return user_session, user


def parse_scopes(text: str) -> frozenset[TokenScope]:
    known = {scope.value for scope in TokenScope}
    return frozenset(TokenScope(name) for name in text.split() if name in known)


async def resolve_api_token(session: AsyncSession, *, token: str) -> Actor | None:
    """The actor behind a bearer token, limited to the token's scopes; None for an
    unknown or revoked token, ApiTokenExpired for an expired one."""
    found = await repository.get_api_token_by_hash(session, crypto.token_hash(token))
    if found is None or not found[1].is_active:
        return None
    api_token, user = found
    assert api_token.id is not None
    now = utcnow()
    if api_token.expires_at is None:
        raise ApiTokenExpired(None)
    if api_token.expires_at <= now:
        raise ApiTokenExpired(api_token.expires_at.date().isoformat())
    await repository.touch_api_token(session, api_token.id, now)
    return actor_for(user, via_api_token=True, token_scopes=parse_scopes(api_token.scopes))


async def _accept_totp_code(
    session: AsyncSession, *, settings: Settings, user: User, secret: str, code: str
) -> None:
    """Accepts a code once: wrong codes are counted per account and back off like
    failed passwords (counted apart, so a password login never resets them), and
    a code whose time step was accepted before is refused as a replay."""
    assert user.id is not None
    now = utcnow()
    locked = user.second_factor_locked_until
    if locked is not None and locked > now:
        raise SecondFactorBackedOff(int((locked - now).total_seconds()) + 1)
    step = matching_totp_step(secret, code, now)
    if step is not None and await repository.claim_totp_step(session, user.id, step):
        await repository.reset_failed_second_factor(session, user.id)
        return
    failures = await repository.record_failed_second_factor(session, user.id)
    wait = _backoff_seconds(settings, failures)
    if wait:
        await repository.set_second_factor_locked_until(
            session, user.id, now + timedelta(seconds=wait)
        )
    await audit.record(
        session,
        actor=None,
        action="auth.second_factor_failed",
        entity_type="user",
        entity_id=user.id,
        municipality_id=user.municipality_id,
        data={"failures": failures, "replayed": step is not None},
    )
    raise SecondFactorReplayed() if step is not None else SecondFactorWrong()


async def complete_second_factor(
    session: AsyncSession, *, settings: Settings, user_session: UserSession, user: User, code: str
) -> None:
    assert user.id is not None and user_session.id is not None
    if not user.totp_enabled or user.totp_secret_encrypted is None:
        raise InvalidInput(N_("Set up your authenticator app first."))
    secret = crypto.decrypt(settings.secret_key.get_secret_value(), user.totp_secret_encrypted)
    await _accept_totp_code(session, settings=settings, user=user, secret=secret, code=code)
    await repository.clear_second_factor_pending(session, user_session.id)
    await audit.record(
        session,
        actor=actor_for(user),
        action="auth.second_factor",
        entity_type="user",
        entity_id=user.id,
        municipality_id=user.municipality_id,
    )


async def begin_totp_setup(session: AsyncSession, *, settings: Settings, user: User) -> str:
    """Stores a fresh secret (not yet enabled) and returns it for the QR code."""
    assert user.id is not None
    if user.totp_enabled:
        raise InvalidInput(N_("Your second factor is already set up."))
    secret = new_totp_secret()
    await repository.set_totp(
        session,
        user.id,
        secret_encrypted=crypto.encrypt(settings.secret_key.get_secret_value(), secret),
        enabled=False,
    )
    return secret


def pending_totp_secret(settings: Settings, user: User) -> str | None:
    if user.totp_secret_encrypted is None or user.totp_enabled:
        return None
    return crypto.decrypt(settings.secret_key.get_secret_value(), user.totp_secret_encrypted)


async def confirm_totp_setup(
    session: AsyncSession, *, settings: Settings, user: User, user_session: UserSession, code: str
) -> None:
    secret = pending_totp_secret(settings, user)
    assert user.id is not None and user_session.id is not None
    if secret is None:
        raise InvalidInput(N_("Start the set-up of your authenticator app first."))
    await _accept_totp_code(session, settings=settings, user=user, secret=secret, code=code)
    await repository.set_totp(
        session, user.id, secret_encrypted=user.totp_secret_encrypted, enabled=True
    )
    await repository.clear_second_factor_pending(session, user_session.id)
    await audit.record(
        session,
        actor=actor_for(user),
        action="auth.totp_enabled",
        entity_type="user",
        entity_id=user.id,
        municipality_id=user.municipality_id,
    )


@dataclass
class IssuedToken:
    token: ApiToken
    secret: str


def token_scopes_for(actor: Actor) -> tuple[TokenScope, ...]:
    """The scopes this person may give a token (none for a token itself)."""
    if actor.via_api_token or not actor.can(Permission.API_TOKEN_MANAGE):
        return ()
    return SCOPES_FOR_ROLE.get(actor.role, ())


async def create_api_token(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    name: str,
    scopes: Sequence[str],
    days: str = "",
) -> IssuedToken:
    """A token for a provider's systems (kitchen orders, offers, settlement read)
    or a municipality's (finance read), for at most api_token_max_days."""
    allowed = token_scopes_for(actor)
    if not allowed or (actor.provider_id is None and actor.municipality_id is None):
        raise PermissionDenied(N_("Only an administrator can create API tokens."))
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput(N_("Give the token a name of 1 to 100 characters."))
    chosen = frozenset(TokenScope(s) for s in scopes if s in {a.value for a in allowed})
    if not chosen or len(chosen) != len(set(scopes)):
        raise InvalidInput(
            N_("Choose what the token may do: one or more of {scopes}."),
            scopes=", ".join(allowed),
        )
    lifetime = _token_days(settings, days)
    secret = crypto.new_token(API_TOKEN_PREFIX)
    now = utcnow()
    token = await repository.add_api_token(
        session,
        ApiToken(
            user_id=actor.user_id,
            name=name,
            prefix=secret[:10],
            token_hash=crypto.token_hash(secret),
            scopes=" ".join(sorted(chosen)),
            created_at=now,
            expires_at=now + timedelta(days=lifetime),
        ),
    )
    await audit.record(
        session,
        actor=actor,
        action="api_token.created",
        entity_type="api_token",
        entity_id=token.id or 0,
        municipality_id=actor.municipality_id,
        data={
            "name": name,
            "provider_id": actor.provider_id,
            "scopes": sorted(chosen),
            "expires_at": token.expires_at,
        },
    )
    return IssuedToken(token=token, secret=secret)


def _token_days(settings: Settings, days: str) -> int:
    if not days.strip():
        return settings.api_token_default_days
    if not days.strip().isdigit() or not 1 <= int(days) <= settings.api_token_max_days:
        raise InvalidInput(
            N_("A token can live from 1 to {most} days."), most=settings.api_token_max_days
        )
    return int(days)


async def list_api_tokens(session: AsyncSession, *, actor: Actor) -> list[ApiToken]:
    if actor.provider_id is not None:
        return await repository.list_api_tokens(session, provider_id=actor.provider_id)
    if actor.municipality_id is not None:
        return await repository.list_api_tokens(session, municipality_id=actor.municipality_id)
    return []


def _owns(actor: Actor, owner: User) -> bool:
    if actor.provider_id is not None:
        return owner.provider_id == actor.provider_id
    return (
        actor.municipality_id is not None
        and owner.provider_id is None
        and owner.municipality_id == actor.municipality_id
    )


async def revoke_api_token(session: AsyncSession, *, actor: Actor, token_id: int) -> None:
    found = await repository.get_api_token(session, token_id)
    if found is None or not _owns(actor, found[1]):
        raise NotFound(N_("That API token does not exist."))
    if found[0].revoked_at is None:
        await repository.revoke_api_token(session, token_id, utcnow())
        await audit.record(
            session,
            actor=actor,
            action="api_token.revoked",
            entity_type="api_token",
            entity_id=token_id,
            municipality_id=actor.municipality_id,
        )


async def get_user(session: AsyncSession, *, user_id: int) -> User:
    user = await repository.get_user(session, user_id)
    if user is None:
        raise NotFound(N_("That user does not exist."))
    return user
