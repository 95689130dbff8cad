"""Cookies only over HTTPS and HSTS in production; the API docs without a CDN;
no Server header from the bundled server."""

import httpx
import pytest
from pydantic import ValidationError

from market.app import create_app
from market.config import Settings
from tests.factories import login

SECRET = "x" * 40


def test_production_turns_secure_cookies_and_hsts_on_by_default():
    production = Settings(environment="production", secret_key=SECRET)
    assert production.cookie_secure is True
    assert production.hsts_seconds == 365 * 24 * 3600
    development = Settings(environment="development")
    assert development.cookie_secure is False and development.hsts_seconds == 0


def test_production_refuses_cookies_without_secure():
    with pytest.raises(ValidationError, match="MARKET_COOKIE_SECURE"):
        Settings(environment="production", secret_key=SECRET, cookie_secure=False)


async def _answer(settings: Settings, session, path: str = "/login") -> httpx.Response:
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def provide():
        yield session

    app = create_app(settings, session_provider=provide)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver"
    ) as client:
        if path == "/login":
            await client.get("/login")
            return await login(client, "admin@aarhus.dk")
        return await client.get(path)


async def test_production_sends_secure_cookies_and_hsts(settings, session, world):
    production = settings.model_copy(
        update={"environment": "production", "cookie_secure": True, "hsts_seconds": 31536000}
    )
    response = await _answer(production, session)
    cookies = response.headers.get_list("set-cookie")
    assert cookies and all("secure" in c.lower() for c in cookies)
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


async def test_behind_a_tls_proxy_the_app_leaves_hsts_to_the_proxy(settings, session, world):
    proxied = settings.model_copy(
        update={"cookie_secure": True, "hsts_seconds": 31536000, "tls_terminated_by_proxy": True}
    )
    response = await _answer(proxied, session)
    assert "strict-transport-security" not in response.headers
    assert all("secure" in c.lower() for c in response.headers.get_list("set-cookie"))


async def test_api_docs_load_nothing_from_another_site_and_have_a_csp(client):
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    script = await client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000
    assert (await client.get("/redoc")).status_code == 404


def test_the_bundled_server_names_no_server():
    from market.cli import uvicorn_options

    assert uvicorn_options()["server_header"] is False
