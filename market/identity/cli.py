"""`market identity …`: the identity providers of a municipality, binding links
and bindings for staff, and a proxy's CPR number (asked for, never an argument:
arguments end up in shell history and process lists)."""

import asyncio
from collections.abc import Coroutine
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from market.admin_tasks import unit_of_work
from market.auth import repository as auth_repository
from market.auth.models import User
from market.config import Settings, get_settings
from market.errors import AppError
from market.identity import repository, service
from market.identity.models import Audience
from market.municipalities import repository as municipality_repository

T = TypeVar("T")

identity_app = typer.Typer(
    help="Signing in with the municipality's identity provider and MitID.", no_args_is_help=True
)


async def _municipality_id(session: AsyncSession, code: str) -> int:
    municipality = await municipality_repository.get_by_code(session, code)
    if municipality is None or municipality.id is None:
        raise typer.BadParameter(f"no municipality with code {code}")
    return municipality.id


async def _user(session: AsyncSession, email: str) -> User:
    user = await auth_repository.get_user_by_email(session, email.strip().lower())
    if user is None or user.id is None:
        raise typer.BadParameter(f"no user with e-mail {email}")
    return user


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except AppError as exc:
        typer.echo(f"Error: {exc.sentence()}", err=True)
        raise typer.Exit(2) from exc


@identity_app.command("configure")
def configure(
    municipality_code: Annotated[str, typer.Option()],
    audience: Annotated[Audience, typer.Option("--for", help="staff or citizen")],
    issuer: Annotated[str, typer.Option()],
    client_id: Annotated[str, typer.Option()],
    client_secret: Annotated[
        str,
        typer.Option(
            prompt="Client secret (empty keeps the saved one)",
            hide_input=True,
            envvar="MARKET_OIDC_CLIENT_SECRET",
            help="Asked for when not in MARKET_OIDC_CLIENT_SECRET.",
        ),
    ] = "",
    scopes: str = "openid",
    claim: Annotated[
        str, typer.Option(help="staff: sub or oid; citizens: the broker's CPR claim")
    ] = "",
    mfa_acr: Annotated[str, typer.Option(help="acr values counting as MFA")] = "",
    mfa_amr: Annotated[str, typer.Option(help="amr values counting as MFA")] = "",
    staff_passwords: Annotated[bool, typer.Option("--staff-passwords/--no-staff-passwords")] = True,
    enabled: Annotated[bool, typer.Option("--enabled/--disabled")] = True,
) -> None:
    """Create or change a municipality's provider for staff or citizens."""
    settings = get_settings()

    async def run() -> int:
        async with unit_of_work(settings) as session:
            row = await service.configure_provider(
                session,
                settings=settings,
                actor=None,
                municipality_id=await _municipality_id(session, municipality_code),
                data=service.ProviderSettings(
                    audience=audience,
                    issuer=issuer,
                    client_id=client_id,
                    client_secret=client_secret,
                    scopes=scopes,
                    person_claim=claim,
                    mfa_acr_values=mfa_acr,
                    mfa_amr_values=mfa_amr,
                    staff_passwords_allowed=staff_passwords,
                    enabled=enabled,
                ),
            )
            assert row.id is not None
            return row.id

    provider_id = _run(run())
    typer.echo(f"Saved identity provider {provider_id} ({audience}) for {municipality_code}.")


@identity_app.command("list")
def list_providers() -> None:
    """The configured providers (never their secrets)."""
    settings = get_settings()

    async def run() -> list[str]:
        async with unit_of_work(settings) as session:
            return [
                f"{p.id}\t{p.municipality_id}\t{p.audience}\t{p.issuer}\t{p.client_id}\t"
                f"claim={p.person_claim}\tenabled={p.enabled}\t"
                f"staff_passwords={p.staff_passwords_allowed}"
                for p in await repository.list_providers(session)
            ]

    for line in _run(run()):
        typer.echo(line)


def _link_url(settings: Settings, path: str) -> str:
    return (settings.public_url or "").rstrip("/") + path


@identity_app.command("binding-link")
def binding_link(email: str) -> None:
    """A single-use, expiring link that binds a staff member's login at first use."""
    settings = get_settings()

    async def run() -> service.IssuedBindingLink:
        async with unit_of_work(settings) as session:
            user = await _user(session, email)
            assert user.id is not None
            return await service.issue_binding_link(
                session, settings=settings, actor=None, user_id=user.id
            )

    issued = _run(run())
    typer.echo(
        f"Binding link for {email} (valid until {issued.link.expires_at:%Y-%m-%d %H:%M} UTC):"
    )
    typer.echo(_link_url(settings, issued.path))


@identity_app.command("bind")
def bind(
    email: str,
    subject: Annotated[str, typer.Option(help="the provider's stable subject (sub or oid)")],
    municipality_code: Annotated[str, typer.Option()],
) -> None:
    """Bind a known subject directly (e.g. taken over from the directory)."""
    settings = get_settings()

    async def run() -> None:
        async with unit_of_work(settings) as session:
            municipality_id = await _municipality_id(session, municipality_code)
            provider = await repository.provider_for(session, municipality_id, Audience.STAFF)
            if provider is None:
                raise typer.BadParameter("no staff identity provider for that municipality")
            await service.bind_subject(
                session,
                user=await _user(session, email),
                provider=provider,
                subject=subject,
                via="command_line",
            )

    _run(run())
    typer.echo(f"Bound {email}.")


@identity_app.command("proxy-cpr")
def proxy_cpr(
    email: str,
    cpr: Annotated[str, typer.Option(prompt="The proxy's CPR number", hide_input=True)] = "",
) -> None:
    """Record a proxy's own CPR number (as a keyed hash only) for MitID sign-in."""
    from vouchers import service as vouchers

    settings = get_settings()

    async def run() -> None:
        async with unit_of_work(settings) as session:
            user = await _user(session, email)
            assert user.id is not None
            await vouchers.set_proxy_cpr(
                session, actor=None, settings=settings, proxy_user_id=user.id, cpr=cpr
            )

    _run(run())
    typer.echo(f"Recorded the CPR number of {email} for MitID sign-in.")
