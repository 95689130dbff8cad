"""Letter-code sign-in is limited on the server (per client address and for the
whole sign-in), every refused attempt is audited without the code, and the
letter's QR link carries the code only in the fragment, which no browser sends."""

import re

import httpx
from sqlalchemy import select

from market.audit.models import AuditEvent
from tests.factories import login, post_form
from tests.vouchers.test_pages import code_from, events


def _client_from(app, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def _guess(client: httpx.AsyncClient, code: str) -> httpx.Response:
    if "market_csrf" not in client.cookies:
        await client.get("/letter-code")
    return await post_form(client, "/letter-code", {"code": code})


async def test_guessing_from_one_address_backs_off_with_429(app, world, settings):
    async with (
        _client_from(app, "203.0.113.7") as guesser,
        _client_from(app, "198.51.100.9") as neighbour,
    ):
        answers = [
            (await _guess(guesser, f"ZZZZ-{n:04d}")).status_code
            for n in range(settings.letter_code_backoff_after + 1)
        ]
        assert answers == [401] * settings.letter_code_backoff_after + [429]
        last = await _guess(guesser, "ZZZZ-9999")
        assert last.status_code == 429 and "wait" in last.text.lower()
        # Another address is not held back by this one.
        assert (await _guess(neighbour, "ZZZZ-0001")).status_code == 401


async def test_guessing_from_many_addresses_backs_off_the_whole_sign_in(app, world, settings):
    limited = settings.model_copy(update={"letter_code_global_backoff_after": 4})
    app.state.settings = limited
    statuses = []
    for n in range(6):
        async with _client_from(app, f"192.0.2.{n + 1}") as one_try:
            statuses.append((await _guess(one_try, f"ZZZZ-{n:04d}")).status_code)
    assert statuses == [401] * 4 + [429, 429]


async def test_unknown_codes_are_audited_without_the_code(client, world, session):
    refused = await _guess(client, "QQQQ-7777")
    assert refused.status_code == 401
    found = await events(session, "letter_code.refused")
    assert len(found) == 1 and '"reason":"unknown"' in found[0].data_json
    every = " ".join(e for (e,) in await session.execute(select(AuditEvent.data_json)))
    assert "QQQQ" not in every and "7777" not in every


async def test_the_qr_link_keeps_the_code_out_of_the_url_sent_to_the_server(
    client, world, session, citizen
):
    await login(client, "sagsbehandler@aarhus.dk")
    await post_form(client, f"/citizens/{citizen.id}/letter-code")
    letter = await client.get(f"/citizens/{citizen.id}/letter")
    code = await code_from(letter.text)
    assert "?code=" not in letter.text
    # The QR holds /letter-code#CODE: the part after # stays in the phone.
    assert re.search(r"/letter-code#" + code, letter.text)
    client.cookies.clear()
    # An old link with ?code= is not echoed into the page.
    old = await client.get("/letter-code", params={"code": code})
    assert old.status_code == 200 and code not in old.text
    assert '<script src="/static/letter-code.js"' in old.text
    script = await client.get("/static/letter-code.js")
    assert script.status_code == 200 and "location.hash" in script.text
