import time

import pyotp
from sqlalchemy import update

from market.auth.models import User
from market.municipalities.models import Municipality
from tests.factories import login, post_form


async def _require_totp(session, municipality_id):
    await session.execute(
        update(Municipality)
        .where(Municipality.id == municipality_id)
        .values(require_staff_totp=True)
    )
    await session.commit()


async def test_mandatory_second_factor_forces_setup_then_asks_for_a_code(client, world, session):
    await _require_totp(session, world.municipality.id)
    response = await login(client, "admin@aarhus.dk")
    assert response.headers["location"] == "/login/second-factor"
    # Until the second factor is done, nothing else is reachable.
    assert (await client.get("/audit")).status_code in (303, 401)
    setup = await client.get("/login/second-factor")
    assert setup.status_code == 303 and setup.headers["location"] == "/account/second-factor"
    page = await client.get("/account/second-factor")
    assert page.status_code == 200 and "<svg" in page.text
    secret = page.text.split("<code>")[1].split("</code>")[0]

    wrong = await post_form(client, "/account/second-factor", {"code": "000000"})
    assert wrong.status_code == 401
    # The previous time step's code (still accepted): the current one stays unused
    # for the sign-in below, since a code is accepted only once.
    earlier = pyotp.TOTP(secret).at(time.time() - 30)
    done = await post_form(client, "/account/second-factor", {"code": earlier})
    assert done.status_code == 303
    assert (await client.get("/audit")).status_code == 200

    # Next login asks for the code and refuses a wrong one.
    await post_form(client, "/logout")
    await login(client, "admin@aarhus.dk")
    assert (await post_form(client, "/login/second-factor", {"code": "123456"})).status_code == 401
    ok = await post_form(client, "/login/second-factor", {"code": pyotp.TOTP(secret).now()})
    assert ok.status_code == 303
    assert (await client.get("/audit")).status_code == 200


async def test_citizens_are_not_forced_to_use_a_second_factor(client, world, session):
    await _require_totp(session, world.municipality.id)
    response = await login(client, "borger@example.dk")
    assert response.headers["location"] == "/"


async def _signed_in_with_totp(client, session, world) -> pyotp.TOTP:
    """The admin has an authenticator app set up and has just typed the password."""
    await _require_totp(session, world.municipality.id)
    await login(client, "admin@aarhus.dk")
    page = await client.get("/account/second-factor")
    totp = pyotp.TOTP(page.text.split("<code>")[1].split("</code>")[0])
    earlier = totp.at(time.time() - 30)
    assert (await post_form(client, "/account/second-factor", {"code": earlier})).status_code == 303
    await post_form(client, "/logout")
    await login(client, "admin@aarhus.dk")
    return totp


async def test_wrong_codes_back_off_on_the_server_even_before_the_right_code(
    client, world, session, settings
):
    totp = await _signed_in_with_totp(client, session, world)
    right = totp.now()
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    answers = [
        (await post_form(client, "/login/second-factor", {"code": wrong})).status_code
        for _ in range(settings.login_backoff_after + 2)
    ]
    assert answers[: settings.login_backoff_after - 1] == [401] * (settings.login_backoff_after - 1)
    assert answers[-1] == 429
    # Guessing right now does not help: the account waits out the back-off first.
    late = await post_form(client, "/login/second-factor", {"code": right})
    assert late.status_code == 429 and "wait" in late.text
    assert (await client.get("/audit")).status_code != 200
    user = await session.get(User, world.user("admin").id)
    await session.refresh(user)
    assert user.failed_second_factor_count >= settings.login_backoff_after
    # A fresh password login does not reset the second-factor counter.
    await login(client, "admin@aarhus.dk")
    assert (await post_form(client, "/login/second-factor", {"code": right})).status_code == 429


async def test_a_used_code_cannot_be_replayed_in_its_window(client, world, session):
    totp = await _signed_in_with_totp(client, session, world)
    code = totp.now()
    assert (await post_form(client, "/login/second-factor", {"code": code})).status_code == 303
    # Someone who saw the code signs in with the password in another browser.
    await post_form(client, "/logout")
    await login(client, "admin@aarhus.dk")
    replay = await post_form(client, "/login/second-factor", {"code": code})
    assert replay.status_code == 401 and "already been used" in replay.text
    assert (await client.get("/audit")).status_code != 200
