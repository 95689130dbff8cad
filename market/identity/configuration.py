"""A municipality's identity providers (for staff and for citizens): their
settings, set by a platform admin, and which municipalities people can sign in
to with one."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from market import crypto
from market.audit import service as audit
from market.auth.permissions import Actor, Permission
from market.config import Settings
from market.db import utcnow
from market.errors import N_, PermissionDenied
from market.identity import repository
from market.identity.exceptions import BadProviderSettings, ProviderNotConfigured
from market.identity.models import Audience, IdentityProvider
from market.identity.oidc import OidcError, check_outbound_url
from market.municipalities import service as municipalities

CITIZEN_CPR_CLAIM = "https://data.gov.dk/model/core/eid/cprNumber"


@dataclass
class ProviderSettings:
    audience: Audience
    issuer: str
    client_id: str
    # Empty when editing: keep the stored secret.
    client_secret: str = ""
    scopes: str = "openid"
    person_claim: str = ""
    mfa_acr_values: str = ""
    mfa_amr_values: str = ""
    staff_passwords_allowed: bool = True
    enabled: bool = True


def _require_platform(actor: Actor | None) -> None:
    if actor is not None and not actor.can(Permission.IDENTITY_PROVIDER_MANAGE):
        raise PermissionDenied(N_("Only a platform administrator can set up sign-in."))


@dataclass(frozen=True)
class _Clean:
    issuer: str
    client_id: str
    scopes: str
    claim: str


def _checked(settings: Settings, data: ProviderSettings) -> _Clean:
    """The issuer, client id, scopes and person claim, checked and tidied."""
    issuer = data.issuer.strip()
    try:
        check_outbound_url(issuer, allow_loopback=settings.oidc_loopback_allowed)
    except OidcError as exc:
        raise BadProviderSettings(
            N_("The issuer must be an https address of the identity provider.")
        ) from exc
    client_id = data.client_id.strip()
    if not client_id or len(client_id) > 255:
        raise BadProviderSettings(N_("Give the client id the provider issued (1–255 characters)."))
    scopes = " ".join(data.scopes.split())
    if "openid" not in scopes.split():
        raise BadProviderSettings(N_("The scopes must include openid."))
    claim = data.person_claim.strip() or (
        "sub" if data.audience == Audience.STAFF else CITIZEN_CPR_CLAIM
    )
    if len(claim) > 200:
        raise BadProviderSettings(N_("The claim name is too long."))
    if data.audience == Audience.STAFF and claim in {"email", "upn", "preferred_username"}:
        # An e-mail address can be reassigned to someone else; a subject cannot.
        raise BadProviderSettings(
            N_("Staff must be identified by a stable subject claim such as sub or oid.")
        )
    return _Clean(issuer=issuer, client_id=client_id, scopes=scopes, claim=claim)


def _apply(row: IdentityProvider, clean: _Clean, data: ProviderSettings) -> None:
    row.issuer = clean.issuer
    row.client_id = clean.client_id
    row.scopes = clean.scopes
    row.person_claim = clean.claim
    row.mfa_acr_values = " ".join(data.mfa_acr_values.split())
    row.mfa_amr_values = " ".join(data.mfa_amr_values.split())
    row.staff_passwords_allowed = data.staff_passwords_allowed or data.audience != Audience.STAFF
    row.enabled = data.enabled
    row.updated_at = utcnow()


async def configure_provider(
    session: AsyncSession,
    *,
    settings: Settings,
    actor: Actor | None,
    municipality_id: int,
    data: ProviderSettings,
) -> IdentityProvider:
    """Creates or changes the municipality's provider for staff or citizens. The
    client secret is encrypted and never returned; the audit names what changed."""
    _require_platform(actor)
    await municipalities.get(session, municipality_id=municipality_id)
    clean = _checked(settings, data)
    existing = await repository.provider_for(session, municipality_id, data.audience)
    secret = data.client_secret.strip()
    if existing is None and not secret:
        raise BadProviderSettings(N_("Give the client secret the provider issued."))
    row = existing or IdentityProvider(
        municipality_id=municipality_id,
        audience=data.audience,
        issuer=clean.issuer,
        client_id=clean.client_id,
        client_secret_encrypted="",
    )
    # A subject is unique only at its issuer: bindings made at another issuer
    # could name someone else here, so a new issuer starts with none.
    issuer_changed = existing is not None and existing.issuer != clean.issuer
    if issuer_changed and row.id is not None:
        await repository.delete_bindings_of(session, row.id)
    _apply(row, clean, data)
    if secret:
        row.client_secret_encrypted = crypto.encrypt(settings.secret_key.get_secret_value(), secret)
    await repository.add(session, row)
    assert row.id is not None
    await audit.record(
        session,
        actor=actor,
        action="identity_provider.created" if existing is None else "identity_provider.changed",
        entity_type="identity_provider",
        entity_id=row.id,
        municipality_id=municipality_id,
        data={
            "audience": row.audience,
            "issuer": row.issuer,
            "client_id": row.client_id,
            "client_secret_changed": bool(secret),
            "bindings_cleared": issuer_changed,
            "scopes": row.scopes,
            "person_claim": row.person_claim,
            "mfa_acr_values": row.mfa_acr_values,
            "mfa_amr_values": row.mfa_amr_values,
            "staff_passwords_allowed": row.staff_passwords_allowed,
            "enabled": row.enabled,
        },
    )
    return row


async def list_providers(session: AsyncSession, *, actor: Actor | None) -> list[IdentityProvider]:
    _require_platform(actor)
    return await repository.list_providers(session)


@dataclass
class SignInChoice:
    code: str
    name: str
    audiences: set[Audience]


async def sign_in_choices(
    session: AsyncSession, *, municipality_code: str | None
) -> tuple[list[SignInChoice], SignInChoice | None]:
    """The municipalities people can sign in to with a provider, and the chosen
    one (or the only one)."""
    by_municipality: dict[int, set[Audience]] = {}
    for provider in await repository.list_providers(session):
        if provider.enabled:
            by_municipality.setdefault(provider.municipality_id, set()).add(provider.audience)
    choices = [
        SignInChoice(code=m.code, name=m.name, audiences=by_municipality[m.id])
        for m in await municipalities.list_all(session)
        if m.id in by_municipality
    ]
    chosen = next((c for c in choices if c.code == municipality_code), None)
    if chosen is None and len(choices) == 1:
        chosen = choices[0]
    return choices, chosen


async def enabled_provider(
    session: AsyncSession, municipality_id: int, audience: Audience
) -> IdentityProvider:
    provider = await repository.provider_for(session, municipality_id, audience)
    if provider is None or not provider.enabled:
        raise ProviderNotConfigured()
    return provider


async def staff_provider_enabled(session: AsyncSession, *, municipality_id: int) -> bool:
    """Whether the municipality's staff sign in through its identity provider (so an
    invitation offers that way in as well as a password)."""
    provider = await repository.provider_for(session, municipality_id, Audience.STAFF)
    return provider is not None and provider.enabled
