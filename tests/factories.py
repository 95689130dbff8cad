"""Building blocks for tests: a municipality with staff, a provider, logins."""

from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth import service as auth_service
from market.auth.models import Role, User
from market.municipalities import service as municipalities
from market.municipalities.models import Municipality
from providers.models import Provider

PASSWORD = "correct-horse-battery"


@dataclass
class World:
    municipality: Municipality
    other_municipality: Municipality
    users: dict[str, User]
    provider: Provider

    def user(self, key: str) -> User:
        return self.users[key]


async def make_municipality(
    session: AsyncSession, code: str, name: str, postal_codes: dict[str, str]
) -> Municipality:
    return await municipalities.create(session, code=code, name=name, postal_codes=postal_codes)


async def make_user(
    session: AsyncSession,
    email: str,
    role: Role,
    *,
    municipality_id: int | None = None,
    provider_id: int | None = None,
    password: str = PASSWORD,
) -> User:
    return await auth_service.create_user(
        session,
        actor=None,
        email=email,
        full_name=email.split("@")[0].replace(".", " ").title(),
        password=password,
        role=role,
        municipality_id=municipality_id,
        provider_id=provider_id,
    )


async def make_provider(
    session: AsyncSession, name: str = "Det Gode Køkken ApS", cvr: str = "10000009"
) -> Provider:
    provider = Provider(
        name=name,
        cvr=cvr,
        address="Køkkenvej 1",
        postal_code="8000",
        city="Aarhus C",
        contact_name="Kirsten Kok",
        contact_email="kontakt@godekoekken.dk",
        contact_phone="+4511223344",
    )
    session.add(provider)
    await session.flush()
    return provider


@pytest.fixture
async def world(session: AsyncSession) -> World:
    aarhus = await make_municipality(
        session,
        "0751",
        "Aarhus Kommune",
        {"8000": "Aarhus C", "8200": "Aarhus N", "8210": "Aarhus V", "8220": "Brabrand"},
    )
    odense = await make_municipality(
        session, "0461", "Odense Kommune", {"5000": "Odense C", "5200": "Odense V"}
    )
    provider = await make_provider(session)
    assert aarhus.id and odense.id and provider.id
    users = {
        "admin": await make_user(
            session, "admin@aarhus.dk", Role.MUNICIPAL_ADMIN, municipality_id=aarhus.id
        ),
        "admin2": await make_user(
            session, "admin2@aarhus.dk", Role.MUNICIPAL_ADMIN, municipality_id=aarhus.id
        ),
        "case_worker": await make_user(
            session, "sagsbehandler@aarhus.dk", Role.CASE_WORKER, municipality_id=aarhus.id
        ),
        "auditor": await make_user(
            session, "revisor@aarhus.dk", Role.AUDITOR, municipality_id=aarhus.id
        ),
        "citizen": await make_user(
            session, "borger@example.dk", Role.CITIZEN, municipality_id=aarhus.id
        ),
        "odense_admin": await make_user(
            session, "admin@odense.dk", Role.MUNICIPAL_ADMIN, municipality_id=odense.id
        ),
        "provider_admin": await make_user(
            session, "chef@godekoekken.dk", Role.PROVIDER_ADMIN, provider_id=provider.id
        ),
        "provider_staff": await make_user(
            session, "kok@godekoekken.dk", Role.PROVIDER_STAFF, provider_id=provider.id
        ),
        "platform_admin": await make_user(session, "platform@velfaerd.dk", Role.PLATFORM_ADMIN),
    }
    await session.commit()
    return World(municipality=aarhus, other_municipality=odense, users=users, provider=provider)


async def csrf(client: httpx.AsyncClient) -> str:
    if "market_csrf" not in client.cookies:
        await client.get("/login")
    return client.cookies["market_csrf"]


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    token = await csrf(client)
    response = await client.post(
        "/login", data={"email": email, "password": password, "next": "/", "csrf_token": token}
    )
    return response


async def post_form(
    client: httpx.AsyncClient, url: str, data: dict | None = None, files: dict | None = None
) -> httpx.Response:
    body = dict(data or {})
    body["csrf_token"] = client.cookies.get("market_csrf", "")
    return await client.post(url, data=body, files=files)


def api_headers(client: httpx.AsyncClient) -> dict[str, str]:
    """A browser session calling the JSON API sends the CSRF token as a header."""
    return {"X-CSRF-Token": client.cookies.get("market_csrf", "")}
