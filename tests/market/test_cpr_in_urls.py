"""A CPR number never travels in a URL: a GET carrying one is refused with a
sentence that does not repeat it, and the server's access log line never
holds it. The search by CPR is a POST (page form and API)."""

import asyncio
import logging
from contextlib import asynccontextmanager

import httpx
import uvicorn

from market.app import create_app
from market.cli import uvicorn_options
from tests.factories import api_headers, login

CPR = "0707414321"


async def test_a_cpr_in_a_query_string_is_refused_without_echoing_it(client, world):
    await login(client, "sagsbehandler@aarhus.dk")
    for url in (
        f"/citizens?q={CPR}",
        "/citizens?q=070741-4321",
        f"/api/v1/citizens?q={CPR}",
        "/api/v1/citizens?q=07.07.41%204321&x=1",
    ):
        response = await client.get(url, headers=api_headers(client))
        assert response.status_code == 400, url
        assert "CPR" in response.text and "4321" not in response.text, url
    assert (await client.get("/api/v1/citizens?q=Jensen")).status_code == 200


async def test_search_by_cpr_works_as_a_post(client, world):
    await login(client, "sagsbehandler@aarhus.dk")
    page = await client.post(
        "/citizens", data={"q": CPR, "csrf_token": client.cookies["market_csrf"]}
    )
    assert page.status_code == 200 and CPR not in page.text
    api = await client.post("/api/v1/citizens/search", json={"q": CPR}, headers=api_headers(client))
    assert api.status_code == 200 and api.json() == []


async def test_the_access_log_never_holds_the_cpr(settings, session, world, caplog):
    """Served by the real uvicorn, whose access log is what an operator keeps."""

    @asynccontextmanager
    async def provide():
        yield session

    app = create_app(settings, session_provider=provide)
    # log_config=None: uvicorn leaves logging alone, so its access lines reach caplog.
    options = {
        **uvicorn_options(),
        "host": "127.0.0.1",
        "port": 0,
        "lifespan": "off",
        "log_config": None,
    }
    server = uvicorn.Server(uvicorn.Config(app, **options))
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        with caplog.at_level(logging.INFO, logger="uvicorn.access"):
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as outside:
                answers = [
                    await outside.get(f"/citizens?q={CPR}"),
                    await outside.get("/api/v1/citizens?q=070741-4321"),
                    await outside.get("/login?next=/citizens"),
                ]
    finally:
        server.should_exit = True
        await serving
    assert [a.status_code for a in answers] == [400, 400, 200]
    assert "server" not in answers[2].headers  # the bundled server names no server
    lines = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert len(lines) == 3, lines
    assert all("4321" not in line and "070741" not in line for line in lines), lines
    assert "/login?next=/citizens" in lines[2]
