"""A forgotten password: one answer for every address, a single-use expiring
link stored as a hash, and a reset that signs the account out everywhere."""

import time
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from market import crypto
from market.auth.models import User, UserSession
from market.db import utcnow
from market.people.models import TokenPurpose, UserToken
from tests.factories import PASSWORD, csrf, login, post_form
from tests.market.people.conftest import link_in, mails_to


async def _ask(client, email: str) -> tuple[httpx.Response, float]:
    await csrf(client)
    started = time.monotonic()
    response = await post_form(client, "/password-reset", {"email": email})
    return response, time.monotonic() - started


def _main(response: httpx.Response) -> str:
    return response.text.split("<main", 1)[1].split("</main>", 1)[0]


async def test_the_answer_is_the_same_whether_or_not_the_address_has_an_account(
    mail_client, world, session, mail_settings
):
    answers = {
        email: await _ask(mail_client, email)
        for email in (
            "sagsbehandler@aarhus.dk",  # staff: gets a link
            "nobody@nowhere.dk",  # no account
            "borger@example.dk",  # a citizen calls the municipality instead
        )
    }
    texts = {_main(response) for response, _ in answers.values()}
    assert len(texts) == 1
    assert {response.status_code for response, _ in answers.values()} == {200}
    # Each answer waits out the same floor, so the look-up's time does not show.
    floor = mail_settings.password_reset_answer_seconds
    assert all(seconds >= floor for _, seconds in answers.values()), answers
    assert len(await mails_to(session, "sagsbehandler@aarhus.dk")) == 1
    assert await mails_to(session, "nobody@nowhere.dk") == []
    assert await mails_to(session, "borger@example.dk") == []
    login_page = await mail_client.get("/login")
    assert "/password-reset" in login_page.text


async def test_a_reset_link_works_once_and_signs_the_account_out_everywhere(
    app, mail_client, world, session
):
    user_id = world.user("provider_admin").id
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as other_browser:
        await login(other_browser, "chef@godekoekken.dk")
        assert (await other_browser.get("/provider/offers")).status_code == 200
        await _ask(mail_client, "chef@godekoekken.dk")
        [mail] = await mails_to(session, "chef@godekoekken.dk")
        path = link_in(mail)
        stored = (await session.execute(select(UserToken.token_hash))).scalars().all()
        assert stored == [crypto.token_hash(path.rsplit("/", 1)[1])]

        assert (await mail_client.get(path)).status_code == 200
        mismatch = await post_form(
            mail_client, path, {"password": "new-password-1", "password_again": "new-password-2"}
        )
        assert mismatch.status_code == 422
        done = await post_form(
            mail_client, path, {"password": "new-password-1", "password_again": "new-password-1"}
        )
        assert done.status_code == 303 and done.headers["location"] == "/login?reset=done"
        assert (await other_browser.get("/provider/offers")).status_code in (303, 401)
    left = (await session.execute(select(UserSession).where(UserSession.user_id == user_id))).all()
    assert left == []
    again = await post_form(
        mail_client, path, {"password": "third-password", "password_again": "third-password"}
    )
    assert again.status_code == 410
    assert (await login(mail_client, "chef@godekoekken.dk", PASSWORD)).status_code == 401
    assert (await login(mail_client, "chef@godekoekken.dk", "new-password-1")).status_code == 303


async def test_an_expired_reset_link_is_refused_and_changes_nothing(mail_client, world, session):
    user_id = world.user("admin").id
    await _ask(mail_client, "admin@aarhus.dk")
    [mail] = await mails_to(session, "admin@aarhus.dk")
    path = link_in(mail)
    await session.execute(update(UserToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    await session.commit()
    assert (await mail_client.get(path)).status_code == 410
    refused = await post_form(
        mail_client, path, {"password": "new-password-1", "password_again": "new-password-1"}
    )
    assert refused.status_code == 410
    assert (await login(mail_client, "admin@aarhus.dk", PASSWORD)).status_code == 303
    user = await session.get(User, user_id, populate_existing=True)
    assert user is not None and user.is_active


async def test_a_new_request_waits_a_minute_then_replaces_the_old_link_and_is_no_invitation(
    mail_client, world, session
):
    await _ask(mail_client, "revisor@aarhus.dk")
    # Asking again at once sends nothing more (nobody's inbox is flooded) ...
    await _ask(mail_client, "revisor@aarhus.dk")
    assert len(await mails_to(session, "revisor@aarhus.dk")) == 1
    # ... a minute later it sends a new link, and the old one stops working.
    await session.execute(update(UserToken).values(created_at=utcnow() - timedelta(minutes=2)))
    await session.commit()
    await _ask(mail_client, "revisor@aarhus.dk")
    first, second = (link_in(m) for m in await mails_to(session, "revisor@aarhus.dk"))
    assert (await mail_client.get(first)).status_code == 410
    assert (await mail_client.get(second)).status_code == 200
    rows = (await session.execute(select(UserToken.purpose))).scalars().all()
    assert rows == [TokenPurpose.PASSWORD_RESET]
    token = second.rsplit("/", 1)[1]
    assert (await mail_client.get(f"/invitation/{token}")).status_code == 410
