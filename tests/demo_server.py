"""The demo world behind a real server, for tests that walk every route as
every role (the authorisation matrix, schemathesis).

The database is migrated and seeded with the demo data once per run, on SQLite
or PostgreSQL like the rest of the suite. Sign-ins are made and kept first;
after that every request runs in its own transaction that is rolled back when
the response has been sent, so thousands of generated requests all meet the
same world and none of them changes what the next one sees."""

import asyncio
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession

from market import demo
from market.app import create_app
from market.config import Settings
from market.db import create_engine, create_sessionmaker
from market.migrations import upgrade
from tests.conftest import TEST_SECRET, _make_database, _pg_admin

__all__ = ["DemoServer", "demo_server"]

# Who signs in as what: one demo account per role (see market/demo.py).
DEMO_ACCOUNTS = {
    "platform_admin": "platform@velfaerd.example",
    "municipal_admin": "admin@aarhus.example",
    "case_worker": "sagsbehandler@aarhus.example",
    "auditor": "revisor@aarhus.example",
    "provider_admin": "admin@smagfuldt.example",
    "provider_staff": "kok@smagfuldt.example",
    "citizen": "karen.jensen@borger.example",
    "proxy": "henrik.soerensen@paaroerende-aarhus.example",
    "community_coordinator": "koordinator@spisevenner.example",
    "volunteer": "frivillig@spisevenner.example",
}


@dataclass
class Caller:
    """How one role's requests prove who they are."""

    cookies: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class DemoServer:
    url: str
    settings: Settings
    callers: dict[str, Caller]
    _switch: "_Switch"

    def client(self, role: str | None) -> httpx.Client:
        caller = self.callers[role or "anonymous"]
        return httpx.Client(
            base_url=self.url,
            cookies=caller.cookies,
            headers=caller.headers,
            follow_redirects=False,
            trust_env=False,
            timeout=90.0,  # generous: CI shares two cores with the whole suite
        )


class _Switch:
    persist = True


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _browser(url: str) -> Caller:
    """A signed-out browser: it has its CSRF cookie, like anyone who loaded a page."""
    with httpx.Client(base_url=url, trust_env=False) as client:
        client.get("/login")
        csrf = client.cookies["market_csrf"]
    return Caller(cookies={"market_csrf": csrf}, headers={"X-CSRF-Token": csrf})


def _sign_in(url: str, email: str) -> Caller:
    with httpx.Client(base_url=url, follow_redirects=False, trust_env=False) as client:
        client.get("/login")
        csrf = client.cookies["market_csrf"]
        response = client.post(
            "/login",
            data={
                "email": email,
                "password": demo.DEMO_PASSWORD,
                "next": "/",
                "csrf_token": csrf,
            },
        )
        assert response.status_code == 303, f"{email} could not sign in: {response.status_code}"
        cookies = {name: value for name, value in client.cookies.items()}
    assert "market_session" in cookies, f"{email} got no session cookie"
    return Caller(cookies=cookies, headers={"X-CSRF-Token": cookies["market_csrf"]})


def _kitchen_token(url: str, provider_admin: Caller) -> Caller:
    """A provider's integration token, made on the provider admin's token page."""
    with httpx.Client(
        base_url=url, cookies=provider_admin.cookies, trust_env=False, follow_redirects=True
    ) as client:
        response = client.post(
            "/account/api-tokens",
            data={
                "name": "kitchen integration",
                "scopes": ["kitchen.orders"],
                "csrf_token": provider_admin.cookies["market_csrf"],
            },
        )
        assert response.status_code in (200, 201), response.text[:500]
        found = re.search(r"\b(vm_[A-Za-z0-9_\-]{20,})", response.text)
        assert found, "the token page did not show the new token"
    return Caller(headers={"Authorization": f"Bearer {found.group(1)}"})


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    database_url, pg_name = _make_database(tmp_path_factory.mktemp("demo-db"))
    settings = Settings(
        environment="test",
        secret_key=TEST_SECRET,
        database_url=database_url,
        upload_dir=tmp_path_factory.mktemp("demo-uploads"),
    )
    upgrade(database_url)
    asyncio.run(demo.seed(settings))

    switch = _Switch()
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)

    @asynccontextmanager
    async def provide() -> AsyncIterator[AsyncSession]:
        if switch.persist:
            async with sessionmaker() as session:
                yield session
            return
        async with engine.connect() as connection:
            transaction = await connection.begin()
            session = AsyncSession(
                bind=connection,
                join_transaction_mode="create_savepoint",
                expire_on_commit=False,
                autoflush=False,
            )
            try:
                yield session
            finally:
                await session.close()
                await transaction.rollback()

    sock = _free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings, session_provider=provide),
        log_level="warning",
        lifespan="on",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="demo-uvicorn", daemon=True
    )
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{url}/login", timeout=1.0, trust_env=False).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the demo server did not start")
        time.sleep(0.05)  # polling while the server binds

    try:
        callers = {role: _sign_in(url, email) for role, email in DEMO_ACCOUNTS.items()}
        callers["anonymous"] = _browser(url)
        callers["kitchen_token"] = _kitchen_token(url, callers["provider_admin"])
        switch.persist = False
        yield DemoServer(url=url, settings=settings, callers=callers, _switch=switch)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        if pg_name:
            asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
