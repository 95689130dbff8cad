"""Stripe webhooks, signed exactly as Stripe signs them: stored once by event
id, applied in any order without moving a payment backwards."""

import json
import time
from contextlib import asynccontextmanager

import httpx
import pytest
import stripe
from pydantic import SecretStr
from sqlalchemy import select

from market.app import create_app
from market.payments.gateway import OfflineGateway
from market.payments.models import CardPayment, GatewayEvent
from market.payments.models import CardPaymentStatus as S
from tests.market.payments.conftest import (
    Payments,
    audit_actions,
    card_payment,
    count,
    days_ahead,
    later,
    place,
)

SECRET = "whsec_webhook_tests"


@pytest.fixture
def hook_settings(settings):
    return settings.model_copy(update={"stripe_webhook_secret": SecretStr(SECRET)})


@pytest.fixture
async def hook_client(hook_settings, session):
    @asynccontextmanager
    async def provide():
        yield session

    app = create_app(hook_settings, session_provider=provide)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def event(event_id: str, type_: str, intent: dict, created: int | None = None) -> dict:
    return {
        "id": event_id,
        "object": "event",
        "type": type_,
        "created": created or int(time.time()),
        "livemode": False,
        "api_version": "2024-06-20",
        "data": {"object": {"object": "payment_intent", **intent}},
    }


async def send(client, body: dict, *, secret: str = SECRET, timestamp: int | None = None):
    payload = json.dumps(body, separators=(",", ":"))
    header = stripe.WebhookSignature.generate_signature_header(
        payload, secret, timestamp=timestamp or int(time.time())
    )
    return await client.post(
        "/webhooks/stripe",
        content=payload.encode(),
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


@pytest.fixture
async def authorized(session, kitchen, diner, hook_settings):
    """A card payment authorised through the offline gateway."""
    pay = Payments("offline", hook_settings, OfflineGateway(), None)
    await pay.pay_by_card(session, diner)
    order = await place(session, kitchen, diner, days_ahead(3))
    await pay.run(session, later(order))
    payment = await card_payment(session, order)
    assert payment.status == S.AUTHORIZED
    return order, payment


async def test_succeeded_captures_and_a_replay_changes_nothing(session, hook_client, authorized):
    order, payment = authorized
    body = event("evt_1", "payment_intent.succeeded", {"id": payment.gateway_reference})
    first = await send(hook_client, body)
    assert first.status_code == 200, first.text
    assert first.json()["duplicate"] is False
    assert (await card_payment(session, order)).status == S.CAPTURED
    actions = await audit_actions(session)

    again = await send(hook_client, body)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert (await card_payment(session, order)).status == S.CAPTURED
    assert await audit_actions(session) == actions
    assert await count(session, GatewayEvent) == 1
    stored = await session.get(GatewayEvent, "evt_1", populate_existing=True)
    assert stored.processed_at is not None and "captured" in stored.outcome


async def test_late_events_never_move_a_payment_backwards(session, hook_client, authorized):
    order, payment = authorized
    ref = payment.gateway_reference
    assert (await send(hook_client, event("evt_c", "payment_intent.canceled", {"id": ref}))).json()[
        "outcome"
    ] == "authorized -> released"
    # Arriving after the cancellation: an older authorisation, a capture, a failure.
    for n, type_ in enumerate(
        [
            "payment_intent.amount_capturable_updated",
            "payment_intent.succeeded",
            "payment_intent.payment_failed",
        ]
    ):
        response = await send(hook_client, event(f"evt_late_{n}", type_, {"id": ref}))
        assert response.status_code == 200
        assert response.json()["outcome"].startswith(("ignored", "already"))
    assert (await card_payment(session, order)).status == S.RELEASED
    assert await count(session, GatewayEvent) == 4
    assert (await audit_actions(session))[-1] == "card_payment.released"


async def test_out_of_order_capture_before_authorisation(session, hook_client, kitchen, diner):
    """The worker has not recorded its authorisation yet; Stripe's events find the
    payment by the key in the PaymentIntent's metadata, in either order."""
    from market.payments.models import CitizenPaymentMethod, CopaymentMethod

    session.add(
        CitizenPaymentMethod(
            citizen_id=diner.citizen.id,
            method=CopaymentMethod.CARD,
            gateway_payment_method_id="pm_card_visa",
            updated_by_user_id=diner.me.user_id,
        )
    )
    await session.commit()
    order = await place(session, kitchen, diner, days_ahead(3))
    payment = await card_payment(session, order)
    assert payment.status == S.AUTHORIZING and payment.gateway_reference is None
    intent = {"id": "pi_early", "metadata": {"card_payment_key": payment.idempotency_key}}
    captured = await send(hook_client, event("evt_s", "payment_intent.succeeded", intent))
    assert captured.json()["outcome"] == "authorizing -> captured"
    late = await send(
        hook_client, event("evt_a", "payment_intent.amount_capturable_updated", intent)
    )
    assert late.json()["outcome"].startswith("ignored")
    payment = await card_payment(session, order)
    assert payment.status == S.CAPTURED and payment.gateway_reference == "pi_early"


async def test_a_declined_payment_is_recorded_from_the_event(session, hook_client, kitchen, diner):
    from market.payments.models import CitizenPaymentMethod, CopaymentMethod

    session.add(
        CitizenPaymentMethod(
            citizen_id=diner.citizen.id,
            method=CopaymentMethod.CARD,
            gateway_payment_method_id="pm_card_visa",
            updated_by_user_id=diner.me.user_id,
        )
    )
    await session.commit()
    order = await place(session, kitchen, diner, days_ahead(3))
    payment = await card_payment(session, order)
    intent = {
        "id": "pi_fail",
        "metadata": {"card_payment_key": payment.idempotency_key},
        "last_payment_error": {"message": "Your card was declined."},
    }
    response = await send(hook_client, event("evt_f", "payment_intent.payment_failed", intent))
    assert response.status_code == 200
    payment = await card_payment(session, order)
    assert payment.status == S.DECLINED and payment.last_error == "Your card was declined."


async def test_unknown_events_are_stored_and_acknowledged(session, hook_client):
    body = event("evt_u", "customer.created", {"id": "cus_1"})
    response = await send(hook_client, body)
    assert response.status_code == 200 and response.json()["outcome"] == "not handled"
    stored = await session.get(GatewayEvent, "evt_u", populate_existing=True)
    assert stored.type == "customer.created" and json.loads(stored.payload_json) == body


@pytest.mark.parametrize("problem", ["wrong_secret", "tampered", "too_old", "missing"])
async def test_a_bad_signature_is_400_and_nothing_is_stored(
    session, hook_client, authorized, problem
):
    order, payment = authorized
    order_id = order.id  # the refused request rolls back, expiring what the session holds
    body = event("evt_bad", "payment_intent.succeeded", {"id": payment.gateway_reference})
    if problem == "wrong_secret":
        response = await send(hook_client, body, secret="whsec_someone_else")
    elif problem == "too_old":
        response = await send(hook_client, body, timestamp=int(time.time()) - 301)
    else:
        payload = json.dumps(body)
        header = stripe.WebhookSignature.generate_signature_header(payload, SECRET)
        headers = {"Content-Type": "application/json"}
        if problem == "tampered":
            payload = payload.replace("evt_bad", "evt_bae")
            headers["Stripe-Signature"] = header
        response = await hook_client.post("/webhooks/stripe", content=payload, headers=headers)
    assert response.status_code == 400
    assert "Stripe-Signature" in response.json()["detail"]
    assert "nothing was stored" in response.json()["detail"]
    assert await count(session, GatewayEvent) == 0
    found = await session.execute(
        select(CardPayment.status).where(CardPayment.order_id == order_id)
    )
    assert found.scalar_one() == S.AUTHORIZED


async def test_without_a_webhook_secret_nothing_is_accepted(session, client):
    body = json.dumps(event("evt_x", "payment_intent.succeeded", {"id": "pi_x"}))
    response = await client.post(
        "/webhooks/stripe",
        content=body,
        headers={"Stripe-Signature": "t=1,v1=00", "Content-Type": "application/json"},
    )
    assert response.status_code == 400 and "webhook secret" in response.json()["detail"]
    assert await count(session, GatewayEvent) == 0


async def test_the_intent_status_wins_over_the_event_name(session, hook_client, authorized):
    """An event named "succeeded" whose intent still awaits capture captures nothing."""
    order, payment = authorized
    intent = {"id": payment.gateway_reference, "status": "requires_capture"}
    response = await send(hook_client, event("evt_odd", "payment_intent.succeeded", intent))
    assert response.json()["outcome"] == "already authorized"
    assert (await card_payment(session, order)).status == S.AUTHORIZED


@pytest.mark.stripe
async def test_events_delivered_by_localstripe_are_accepted(
    session, kitchen, diner, stripe_settings
):
    """localstripe signs and posts its events as Stripe does; our endpoint, served
    over HTTP, checks them and applies them without moving anything backwards."""
    import asyncio

    import uvicorn

    from market.payments.stripe_gateway import StripeGateway
    from tests.market.payments.conftest import deliver
    from tests.stripe_server import STRIPE_TEST_WEBHOOK_SECRET

    lock = asyncio.Lock()  # the test, the worker and the webhook share one connection

    @asynccontextmanager
    async def provide():
        async with lock:
            yield session

    app = create_app(stripe_settings, session_provider=provide)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient() as admin:
            registered = await admin.post(
                stripe_settings.stripe_api_base + "/_config/webhooks/ours",
                data={
                    "url": f"http://127.0.0.1:{port}/webhooks/stripe",
                    "secret": STRIPE_TEST_WEBHOOK_SECRET,
                },
            )
            assert registered.status_code == 200

        pay = Payments(
            "stripe",
            stripe_settings,
            StripeGateway(stripe_settings),
            stripe_settings.stripe_api_base,
        )
        async with lock:
            await pay.pay_by_card(session, diner)
            order = await place(session, kitchen, diner, days_ahead(3))
            await pay.run(session, later(order))
            await deliver(session, kitchen, order)
            await pay.run(session, later(order, 2))
            assert (await card_payment(session, order)).status == S.CAPTURED

        stored = []
        for _ in range(100):  # localstripe posts about a second after the call
            await asyncio.sleep(0.1)
            async with lock:
                stored = (await session.execute(select(GatewayEvent))).scalars().all()
            if any(e.type == "payment_intent.succeeded" for e in stored):
                break
        assert any(e.type == "payment_intent.succeeded" for e in stored), stored
        assert all(e.processed_at is not None for e in stored)
        async with lock:
            assert (await card_payment(session, order)).status == S.CAPTURED
    finally:
        server.should_exit = True
        await serving
