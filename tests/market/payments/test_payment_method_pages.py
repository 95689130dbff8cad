"""How a citizen pays: the citizen (or their case worker) chooses the monthly
statement or a card, in plain words, without JavaScript; the JSON API takes a
Stripe PaymentMethod id and attaches it to a Customer at Stripe."""

import pytest
from sqlalchemy import select

from market.audit.models import AuditEvent
from market.payments.models import CardPaymentStatus as S
from market.payments.models import CitizenPaymentMethod, CopaymentMethod
from tests.factories import api_headers, login, post_form
from tests.market.orders.conftest import sign_in_citizen
from tests.market.payments.conftest import Payments, card_payment, days_ahead, later, place


async def method_row(session, citizen_id: int):
    return await session.get(CitizenPaymentMethod, citizen_id, populate_existing=True)


async def test_the_citizen_sees_the_statement_by_default_and_chooses_the_demo_card(
    client, session, kitchen, diner, settings
):
    cid = diner.citizen.id  # a refused request rolls back and expires the session's objects
    await sign_in_citizen(client, session, diner)
    page = await client.get("/payment")
    assert page.status_code == 200
    assert "Your co-payment comes on a statement once a month." in page.text
    assert 'name="method" value="invoice" checked' in page.text

    saved = await post_form(client, "/payment", {"method": "card"})
    assert saved.status_code == 303 and saved.headers["location"] == "/payment?saved=1"
    row = await method_row(session, cid)
    assert row.method == CopaymentMethod.CARD and row.card_label == "Demo •••• 4242"
    page = await client.get("/payment?saved=1")
    assert "Your co-payment is paid by card." in page.text and "Your choice is saved." in page.text
    actions = (await session.execute(select(AuditEvent.action))).scalars().all()
    assert "payment_method.chosen" in actions

    # The next order is paid by card, through the offline gateway.
    order = await place(session, kitchen, diner, days_ahead(3))
    assert (await card_payment(session, order)).status == S.AUTHORIZING
    back = await post_form(client, "/payment", {"method": "invoice"})
    assert back.status_code == 303
    assert (await method_row(session, cid)).method == CopaymentMethod.INVOICE


async def test_a_made_up_method_is_refused_and_nothing_changes(client, session, diner):
    cid = diner.citizen.id  # a refused request rolls back and expires the session's objects
    await sign_in_citizen(client, session, diner)
    response = await post_form(client, "/payment", {"method": "cash"})
    assert response.status_code == 422
    assert "Choose the monthly statement or a card." in response.text
    assert await method_row(session, cid) is None


async def test_the_case_worker_chooses_for_the_citizen(client, session, world, diner):
    cid = diner.citizen.id  # a refused request rolls back and expires the session's objects
    name = diner.citizen.full_name
    await login(client, world.user("case_worker").email)
    record = await client.get(f"/citizens/{cid}")
    assert f"/citizens/{cid}/payment" in record.text
    # On the phone the case worker reads about the citizen, not about "you".
    page = await client.get(f"/citizens/{cid}/payment")
    assert f"{name} gets a statement of the co-payment once a month." in page.text
    assert "Your co-payment" not in page.text
    saved = await post_form(client, f"/citizens/{cid}/payment", {"method": "card"})
    assert saved.status_code == 303
    assert (await method_row(session, cid)).updated_by_user_id == world.user("case_worker").id
    page = await client.get(saved.headers["location"])
    assert f"{name} pays the co-payment by card." in page.text


async def test_another_municipality_cannot_see_or_choose(client, session, world, diner):
    cid = diner.citizen.id  # a refused request rolls back and expires the session's objects
    from tests.factories import make_user

    stranger = await make_user(
        session,
        "cw-elsewhere@example.org",
        role="case_worker",
        municipality_id=world.other_municipality.id,
    )
    await session.commit()
    await login(client, stranger.email)
    assert (await client.get(f"/citizens/{cid}/payment")).status_code == 404
    response = await post_form(client, f"/citizens/{cid}/payment", {"method": "card"})
    assert response.status_code == 404
    assert await method_row(session, cid) is None


@pytest.mark.stripe
async def test_the_api_attaches_a_stripe_card_and_the_next_order_uses_it(
    session, kitchen, diner, stripe_settings, stripe_client, world
):
    cid = diner.citizen.id  # a refused request rolls back and expires the session's objects
    from contextlib import asynccontextmanager

    import httpx

    from market.app import create_app

    @asynccontextmanager
    async def provide():
        yield session

    app = create_app(stripe_settings, session_provider=provide)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        await login(client, world.user("case_worker").email)
        url = f"/api/v1/citizens/{cid}/payment-method"
        refused = await client.put(
            url, json={"method": "card", "payment_method_id": "card_1"}, headers=api_headers(client)
        )
        assert refused.status_code == 422 and "pm_" in refused.json()["detail"]
        without = await client.put(url, json={"method": "card"}, headers=api_headers(client))
        assert without.status_code == 422 and "service desk" in without.json()["detail"]
        assert await method_row(session, cid) is None

        page = await client.get(f"/citizens/{cid}/payment")
        assert "service desk. Bring your card" in page.text

        response = await client.put(
            url,
            json={"method": "card", "payment_method_id": "pm_card_visa"},
            headers=api_headers(client),
        )
        assert response.status_code == 200, response.text
        assert response.json()["method"] == "card"
        assert response.json()["card_label"] == "Visa •••• 4242"
    # The refused requests rolled back and expired what the session held.
    await session.refresh(kitchen.offer)
    await session.refresh(diner.citizen)
    row = await method_row(session, cid)
    customer = stripe_client.v1.customers.retrieve(row.gateway_customer_id)
    assert customer.name == diner.citizen.full_name

    from market.payments.stripe_gateway import StripeGateway

    pay = Payments(
        "stripe", stripe_settings, StripeGateway(stripe_settings), stripe_settings.stripe_api_base
    )
    order = await place(session, kitchen, diner, days_ahead(3))
    await pay.run(session, later(order))
    [intent] = pay.intents()
    assert intent["customer"] == row.gateway_customer_id and intent["status"] == "requires_capture"
