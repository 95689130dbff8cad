import pyotp
from sqlalchemy import update

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
    done = await post_form(client, "/account/second-factor", {"code": pyotp.TOTP(secret).now()})
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
