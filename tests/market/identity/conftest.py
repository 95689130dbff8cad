"""A real OpenID Connect provider on loopback (oidc-provider-mock), the
municipality's staff and citizen logins pointed at it, and the browser's walk
through the authorisation code flow."""

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlparse

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from market.config import Settings
from market.identity import service
from market.identity.models import Audience, IdentityProvider
from tests.factories import World
from tests.oidc_server import MockProvider, run_mock_provider
from tests.vouchers.conftest import caps  # noqa: F401  (a fixture)


@pytest.fixture(scope="session")
def mock_idp() -> Iterator[MockProvider]:
    with run_mock_provider() as provider:
        yield provider


@pytest.fixture(scope="session")
def expired_idp() -> Iterator[MockProvider]:
    """Issues ID tokens that expired ten minutes before they were issued: far
    beyond the clock skew we allow."""
    with run_mock_provider(token_max_age=timedelta(minutes=-10)) as provider:
        yield provider


async def configure(
    session: AsyncSession,
    settings: Settings,
    world: World,
    provider: MockProvider,
    audience: Audience,
    **kw,
) -> IdentityProvider:
    assert world.municipality.id is not None
    row = await service.configure_provider(
        session,
        settings=settings,
        actor=None,
        municipality_id=world.municipality.id,
        data=service.ProviderSettings(
            audience=audience,
            issuer=provider.issuer,
            client_id=f"velfaerd-{audience}",
            client_secret="s3cret-from-the-provider",
            scopes="openid profile",
            **kw,
        ),
    )
    await session.commit()
    return row


@pytest.fixture
async def staff_idp(session, settings, world, mock_idp) -> IdentityProvider:
    return await configure(session, settings, world, mock_idp, Audience.STAFF, mfa_amr_values="mfa")


@pytest.fixture
async def citizen_idp(session, settings, world, mock_idp) -> IdentityProvider:
    return await configure(
        session,
        settings,
        world,
        mock_idp,
        Audience.CITIZEN,
        mfa_acr_values="https://data.gov.dk/concept/core/nsis/loa/Substantial",
    )


async def start(client: httpx.AsyncClient, path: str) -> str:
    """Our side of the start: returns the provider's authorisation address."""
    response = await client.get(path)
    assert response.status_code == 303, response.text
    return response.headers["location"]


def local(url: str) -> str:
    parsed = urlparse(url)
    return f"{parsed.path}?{parsed.query}"


async def sign_in(
    client: httpx.AsyncClient, provider: MockProvider, path: str, subject: str
) -> httpx.Response:
    """The whole walk: our start link, the provider's form, back to our callback."""
    authorize_url = await start(client, path)
    back = provider.authorize(authorize_url, subject)
    return await client.get(local(back))
