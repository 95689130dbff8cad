"""Signing in with a municipality's identity provider: binding a
staff member's subject to their account (``bind_subject``, the one place that
does it, for binding links and invitations alike), the sign-in itself and
signing out at the provider. The providers' settings are in
``market.identity.configuration`` (re-exported here). Citizens are matched in
``market.identity.citizens`` (it needs the citizen register); this module uses
only the shell."""

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from market import crypto
from market.audit import service as audit
from market.auth import repository as auth_repository
from market.auth import service as auth
from market.auth.models import MUNICIPAL_STAFF_ROLES, User
from market.auth.permissions import Actor, Permission, municipality_scope
from market.config import Settings
from market.db import utcnow
from market.errors import N_, AppError, NotFound, PermissionDenied
from market.identity import repository
from market.identity.configuration import CITIZEN_CPR_CLAIM as CITIZEN_CPR_CLAIM
from market.identity.configuration import ProviderSettings as ProviderSettings
from market.identity.configuration import SignInChoice as SignInChoice
from market.identity.configuration import configure_provider as configure_provider
from market.identity.configuration import enabled_provider
from market.identity.configuration import list_providers as list_providers
from market.identity.configuration import sign_in_choices as sign_in_choices
from market.identity.configuration import staff_provider_enabled as staff_provider_enabled
from market.identity.exceptions import (
    BadProviderSettings,
    BindingLinkInvalid,
    NoStaffAccess,
    SignInRefused,
    SubjectTaken,
)
from market.identity.models import (
    Audience,
    BindingLink,
    IdentityBinding,
    IdentityProvider,
    LoginState,
    ProviderSession,
)
from market.identity.oidc import EndSessionForm, OidcClient, OidcError
from market.identity.oidc import mfa_asserted as _mfa_asserted

BINDING_LINK_PREFIX = "bind_"


def _secret(settings: Settings) -> str:
    return settings.secret_key.get_secret_value()


# --- binding a staff member's subject ---------------------------------------------


async def bind_subject(
    session: AsyncSession,
    *,
    user: User,
    provider: IdentityProvider,
    subject: str,
    via: str,
    actor: Actor | None = None,
) -> IdentityBinding:
    """Binds ``subject`` (the provider's stable claim) to ``user``'s account. The
    one place a binding is made: a binding link, an accepted invitation, or the
    command line. A user has at most one subject per provider; a new one
    replaces the old, and a subject never belongs to two accounts."""
    assert user.id is not None and provider.id is not None
    if (
        provider.audience != Audience.STAFF
        or user.role not in MUNICIPAL_STAFF_ROLES
        or user.municipality_id != provider.municipality_id
        or not user.is_active
    ):
        raise PermissionDenied(N_("Only the municipality's own staff can be bound to its login."))
    subject = subject.strip()
    if not subject or len(subject) > 255:
        raise BadProviderSettings(N_("The identity provider sent no usable subject."))
    taken = await repository.binding_for_subject(session, provider.id, subject)
    if taken is not None:
        if taken.user_id == user.id:
            return taken
        raise SubjectTaken()
    replaced = await repository.binding_for_user(session, provider.id, user.id)
    if replaced is not None and replaced.id is not None:
        await repository.delete_binding(session, replaced.id)
    binding = IdentityBinding(
        identity_provider_id=provider.id,
        user_id=user.id,
        subject=subject,
        created_by_user_id=actor.user_id if actor else None,
    )
    await repository.add(session, binding)
    await audit.record(
        session,
        actor=actor or auth.actor_for(user),
        action="identity.bound",
        entity_type="user",
        entity_id=user.id,
        municipality_id=user.municipality_id,
        data={
            "identity_provider_id": provider.id,
            "subject": subject,
            "via": via,
            "replaced_previous": replaced is not None,
        },
    )
    return binding


@dataclass
class IssuedBindingLink:
    link: BindingLink
    token: str
    user: User

    @property
    def path(self) -> str:
        return f"/login/bind/{self.token}"


async def _staff_member(session: AsyncSession, actor: Actor | None, user_id: int) -> User:
    user = await auth_repository.get_user(session, user_id)
    if user is None or (actor is not None and user.municipality_id != actor.municipality_id):
        raise NotFound(N_("That user does not exist."))
    if user.role not in MUNICIPAL_STAFF_ROLES or user.municipality_id is None:
        raise BadProviderSettings(N_("Only municipal staff sign in through the municipality."))
    return user


async def issue_binding_link(
    session: AsyncSession, *, settings: Settings, actor: Actor | None, user_id: int
) -> IssuedBindingLink:
    """A single-use link (only its hash is stored) valid for
    ``binding_link_hours``; the first staff sign-in through it binds the account."""
    if actor is not None and not actor.can(Permission.IDENTITY_BINDING_MANAGE):
        raise PermissionDenied(N_("Your role does not allow this."))
    user = await _staff_member(session, actor, user_id)
    assert user.municipality_id is not None and user.id is not None
    await enabled_provider(session, user.municipality_id, Audience.STAFF)
    if not user.is_active:
        raise BadProviderSettings(N_("The account is deactivated."))
    token = crypto.new_token(BINDING_LINK_PREFIX)
    link = BindingLink(
        user_id=user.id,
        token_hash=crypto.token_hash(token),
        created_by_user_id=actor.user_id if actor else None,
        expires_at=utcnow() + timedelta(hours=settings.binding_link_hours),
    )
    await repository.add(session, link)
    await audit.record(
        session,
        actor=actor,
        action="identity.binding_link_issued",
        entity_type="user",
        entity_id=user.id,
        municipality_id=user.municipality_id,
        data={"binding_link_id": link.id, "expires_at": link.expires_at.isoformat()},
    )
    return IssuedBindingLink(link=link, token=token, user=user)


async def open_binding_link(session: AsyncSession, *, token: str) -> tuple[BindingLink, User]:
    link = await repository.get_binding_link(session, crypto.token_hash(token))
    if link is None or link.used_at is not None or link.expires_at <= utcnow():
        raise BindingLinkInvalid()
    user = await auth_repository.get_user(session, link.user_id)
    if user is None or not user.is_active:
        raise BindingLinkInvalid()
    return link, user


@dataclass
class StaffRow:
    user: User
    bound: bool


async def staff_bindings(session: AsyncSession, *, actor: Actor) -> tuple[bool, list[StaffRow]]:
    """The municipality's staff and whether each is bound (False first: no provider)."""
    municipality_id = municipality_scope(
        actor, None, lambda: PermissionDenied(N_("Your role does not allow this."))
    )
    provider = await repository.provider_for(session, municipality_id, Audience.STAFF)
    if provider is None or provider.id is None:
        return False, []
    bound = await repository.bound_user_ids(session, provider.id)
    staff = await repository.staff_of(session, municipality_id, MUNICIPAL_STAFF_ROLES)
    return True, [StaffRow(user=u, bound=u.id in bound) for u in staff]


# --- the sign-in ------------------------------------------------------------------


@dataclass
class StartedSignIn:
    url: str
    browser_token: str


async def begin_login(
    session: AsyncSession,
    *,
    settings: Settings,
    oidc: OidcClient,
    municipality_id: int,
    audience: Audience,
    redirect_uri: str,
    next_path: str = "/",
    bind_user_id: int | None = None,
    binding_link_id: int | None = None,
) -> StartedSignIn:
    """Stores the state (hashed, single-use, expiring), the nonce and the PKCE
    verifier, and returns the provider's authorisation address. The browser gets
    ``browser_token`` as a cookie, so a state works only in the browser that
    started it."""
    provider = await enabled_provider(session, municipality_id, audience)
    assert provider.id is not None
    try:
        meta = await oidc.metadata(provider.issuer)
    except OidcError as exc:
        await _refused(session, provider, exc.reason)
        raise SignInRefused(exc.reason) from exc
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    browser_token = secrets.token_urlsafe(32)
    await repository.add(
        session,
        LoginState(
            state_hash=crypto.token_hash(state),
            browser_hash=crypto.token_hash(browser_token),
            identity_provider_id=provider.id,
            nonce=nonce,
            code_verifier_encrypted=crypto.encrypt(_secret(settings), verifier),
            bind_user_id=bind_user_id,
            binding_link_id=binding_link_id,
            next_path=next_path[:500],
            expires_at=utcnow() + timedelta(minutes=settings.oidc_state_minutes),
        ),
    )
    url = oidc.authorization_url(
        meta,
        client_id=provider.client_id,
        redirect_uri=redirect_uri,
        scopes=provider.scopes,
        state=state,
        nonce=nonce,
        code_verifier=verifier,
    )
    return StartedSignIn(url=url, browser_token=browser_token)


@dataclass
class VerifiedSignIn:
    provider: IdentityProvider
    claims: dict[str, Any]
    id_token: str
    state: LoginState

    @property
    def mfa(self) -> bool:
        return _mfa_asserted(
            self.claims,
            acr_values=self.provider.mfa_acr_values,
            amr_values=self.provider.mfa_amr_values,
        )


async def _refused(
    session: AsyncSession, provider: IdentityProvider | None, reason: str, user_id: int = 0
) -> None:
    await audit.record(
        session,
        actor=None,
        action="auth.oidc_refused",
        entity_type="identity_provider" if not user_id else "user",
        entity_id=user_id or (provider.id if provider and provider.id else 0),
        municipality_id=provider.municipality_id if provider else None,
        data={
            "reason": reason,
            "audience": provider.audience if provider else None,
            "identity_provider_id": provider.id if provider else None,
        },
    )


async def refuse(
    session: AsyncSession, *, signed: VerifiedSignIn, reason: str, user_id: int = 0
) -> None:
    """Records a refused sign-in (the reason, never a claim such as the CPR)."""
    await _refused(session, signed.provider, reason, user_id)


async def finish_login(
    session: AsyncSession,
    *,
    settings: Settings,
    oidc: OidcClient,
    state: str,
    code: str | None,
    error: str | None,
    browser_token: str | None,
    redirect_uri: str,
) -> VerifiedSignIn:
    """The provider's answer: the state is used up whatever happens next; the
    code is exchanged with the PKCE verifier; the ID token is checked (signature
    against the published keys, issuer, audience, expiry with bounded skew,
    nonce). Every refusal is audited and raises ``SignInRefused``."""
    now = utcnow()
    await repository.delete_old_states(session, now - timedelta(days=1))
    login_state = await repository.consume_state(session, crypto.token_hash(state or "-"), now)
    if login_state is None:
        await _refused(session, None, "unknown_or_used_state")
        raise SignInRefused("unknown_or_used_state")
    provider = await repository.get_provider(session, login_state.identity_provider_id)
    assert provider is not None
    if not browser_token or crypto.token_hash(browser_token) != login_state.browser_hash:
        await _refused(session, provider, "other_browser")
        raise SignInRefused("other_browser")
    if not provider.enabled:
        await _refused(session, provider, "provider_switched_off")
        raise SignInRefused("provider_switched_off")
    if error or not code:
        reason = "provider_error" if error else "no_code"
        await _refused(session, provider, reason)
        raise SignInRefused(reason)
    try:
        meta = await oidc.metadata(provider.issuer)
        id_token = await oidc.exchange_code(
            meta,
            client_id=provider.client_id,
            client_secret=crypto.decrypt(_secret(settings), provider.client_secret_encrypted),
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=crypto.decrypt(_secret(settings), login_state.code_verifier_encrypted),
        )
        claims = await oidc.verify_id_token(
            meta, id_token, client_id=provider.client_id, nonce=login_state.nonce
        )
    except OidcError as exc:
        await _refused(session, provider, exc.reason)
        raise SignInRefused(exc.reason) from exc
    return VerifiedSignIn(provider=provider, claims=claims, id_token=id_token, state=login_state)


@dataclass
class SignedIn:
    user: User
    token: str
    second_factor_pending: bool
    next_path: str


async def sign_in_as(
    session: AsyncSession, *, settings: Settings, signed: VerifiedSignIn, user: User, how: str
) -> SignedIn:
    """Opens the local session for a person the provider vouched for. The
    second factor is not asked again when the provider asserted it at the level
    the municipality requires."""
    assert user.id is not None and signed.provider.id is not None
    pending = await auth.second_factor_required(session, user=user) and not signed.mfa
    token = await auth.open_session(session, settings=settings, user=user, pending=pending)
    found = await auth_repository.get_session_by_hash(session, crypto.token_hash(token))
    assert found is not None and found[0].id is not None
    await repository.add(
        session,
        ProviderSession(
            user_session_id=found[0].id,
            identity_provider_id=signed.provider.id,
            id_token_encrypted=crypto.encrypt(_secret(settings), signed.id_token),
        ),
    )
    await audit.record(
        session,
        actor=auth.actor_for(user),
        action="auth.login",
        entity_type="user",
        entity_id=user.id,
        municipality_id=user.municipality_id,
        data={
            "method": how,
            "identity_provider_id": signed.provider.id,
            "provider_mfa": signed.mfa,
            "second_factor_pending": pending,
        },
    )
    return SignedIn(
        user=user, token=token, second_factor_pending=pending, next_path=signed.state.next_path
    )


async def sign_in_staff(
    session: AsyncSession, *, settings: Settings, signed: VerifiedSignIn
) -> SignedIn:
    """Staff are found by the subject bound to their account, never by e-mail.
    A sign-in started from a binding link (or an accepted invitation) binds first."""
    provider = signed.provider
    assert provider.id is not None
    if provider.audience != Audience.STAFF:
        await refuse(session, signed=signed, reason="wrong_audience")
        raise SignInRefused("wrong_audience")
    subject = signed.claims.get(provider.person_claim)
    if not isinstance(subject, str) or not subject.strip():
        await refuse(session, signed=signed, reason="no_subject_claim")
        raise SignInRefused("no_subject_claim")
    state = signed.state
    if state.bind_user_id is not None:
        target = await auth_repository.get_user(session, state.bind_user_id)
        if state.binding_link_id is not None and not await repository.use_binding_link(
            session, state.binding_link_id, utcnow()
        ):
            await refuse(session, signed=signed, reason="binding_link_used_or_expired")
            raise BindingLinkInvalid()
        if target is None:
            await refuse(session, signed=signed, reason="binding_target_gone")
            raise NoStaffAccess()
        try:
            await bind_subject(
                session,
                user=target,
                provider=provider,
                subject=subject,
                via="binding_link" if state.binding_link_id else "invitation",
            )
        except AppError:
            await refuse(session, signed=signed, reason="binding_refused")
            raise
    binding = await repository.binding_for_subject(session, provider.id, subject.strip())
    user = await auth_repository.get_user(session, binding.user_id) if binding else None
    if (
        user is None
        or not user.is_active
        or user.municipality_id != provider.municipality_id
        or user.role not in MUNICIPAL_STAFF_ROLES
    ):
        await refuse(session, signed=signed, reason="unknown_subject")
        raise NoStaffAccess()
    return await sign_in_as(session, settings=settings, signed=signed, user=user, how="oidc_staff")


async def end_provider_session(
    session: AsyncSession,
    *,
    settings: Settings,
    oidc: OidcClient,
    user_session_id: int,
    post_logout_redirect_uri: str,
) -> EndSessionForm | None:
    """Forgets the provider session behind a local one and, when the provider
    publishes an end_session_endpoint, returns the form that signs out there."""
    row = await repository.provider_session_for(session, user_session_id)
    if row is None or row.id is None:
        return None
    await repository.delete_provider_session(session, row.id)
    provider = await repository.get_provider(session, row.identity_provider_id)
    if provider is None:
        return None
    try:
        meta = await oidc.metadata(provider.issuer)
    except OidcError:
        return None  # the local session ends regardless
    return oidc.end_session_form(
        meta,
        client_id=provider.client_id,
        id_token_hint=crypto.decrypt(_secret(settings), row.id_token_encrypted),
        post_logout_redirect_uri=post_logout_redirect_uri,
    )
