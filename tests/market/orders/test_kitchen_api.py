"""Kitchen systems with a provider API token: list, accept in bulk, reject,
out for delivery, delivered, failed; and signed webhooks for new and cancelled
orders, delivered by the outbox to a real local HTTP receiver."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import select

from market.auth import service as auth_service
from market.auth.models import Role
from market.orders import service
from market.orders.models import Order, OrderStatus, WelfareAlert
from market.outbox import delivery
from market.outbox import service as outbox
from providers import service as providers
from tests.factories import make_provider, make_user
from tests.market.orders.conftest import days_ahead, noon_before
from tests.market.orders.outbox_helpers import same_connection


async def place(session, kitchen, diner, day, key):
    order = await service.place_order(
        session,
        actor=diner.me,
        citizen_id=None,
        offer_id=kitchen.offer.id,
        delivery_on=day,
        idempotency_key=key,
        now=noon_before(day),
    )
    await session.commit()
    return order.id


@pytest.fixture
async def system(app, session, kitchen, settings):
    issued = await auth_service.create_api_token(
        session,
        actor=kitchen.admin,
        settings=settings,
        name="Køkkensystem",
        scopes=["kitchen.orders"],
    )
    await session.commit()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {issued.secret}"},
    ) as client:
        yield client


async def status_of(session, order_id):
    return (await session.execute(select(Order.status).where(Order.id == order_id))).scalar_one()


async def test_list_and_bulk_accept(system, session, kitchen, diner):
    day = days_ahead(3)
    ids = [await place(session, kitchen, diner, day, f"api-{n}") for n in range(3)]
    listed = await system.get(f"/api/v1/kitchen/orders?status=placed&day={day.isoformat()}")
    assert listed.status_code == 200
    body = listed.json()
    assert [o["id"] for o in body] == ids
    assert body[0]["citizen_name"] == "Karen Jensen" and body[0]["postal_code"] == "8200"
    assert body[0]["offer_name"] == "Frikadeller med kartofler" and body[0]["diet_form"] == "normal"
    accepted = await system.post("/api/v1/kitchen/orders/accept", json={"order_ids": ids[:2]})
    assert accepted.status_code == 200
    assert [o["status"] for o in accepted.json()] == ["accepted", "accepted"]
    assert await status_of(session, ids[2]) == OrderStatus.PLACED
    again = await system.get(f"/api/v1/kitchen/orders?status=placed&day={day.isoformat()}")
    assert [o["id"] for o in again.json()] == [ids[2]]
    bad = await system.get("/api/v1/kitchen/orders?status=cooking")
    assert bad.status_code == 422 and "cooking is not an order status." in bad.json()["detail"]


async def test_single_order_moves_and_refusals(system, session, kitchen, diner, settings):
    day = days_ahead(0)
    first, second, third = [await place(session, kitchen, diner, day, f"one-{n}") for n in range(3)]
    empty = await system.post(f"/api/v1/kitchen/orders/{first}/reject", json={"reason": " "})
    assert empty.status_code == 422
    rejected = await system.post(
        f"/api/v1/kitchen/orders/{first}/reject", json={"reason": "Ingen kartofler i dag"}
    )
    assert rejected.json() == {
        "id": first,
        "status": "rejected",
        "status_note": "Ingen kartofler i dag",
        "failure_reason": None,
    }
    early = await system.post(f"/api/v1/kitchen/orders/{second}/delivered")
    assert early.status_code == 409
    assert "An order that is placed cannot become delivered." in early.json()["detail"]
    for step in ("accept", "out-for-delivery", "delivered"):
        response = await system.post(f"/api/v1/kitchen/orders/{second}/{step}")
        assert response.status_code == 200, response.text
    assert await status_of(session, second) == OrderStatus.DELIVERED
    for step in ("accept", "out-for-delivery"):
        await system.post(f"/api/v1/kitchen/orders/{third}/{step}")
    unknown = await system.post(
        f"/api/v1/kitchen/orders/{third}/failed", json={"reason": "dog", "note": ""}
    )
    assert unknown.status_code == 422
    failed = await system.post(
        f"/api/v1/kitchen/orders/{third}/failed",
        json={"reason": "citizen_absent", "note": "Ingen åbnede"},
    )
    assert failed.status_code == 200 and failed.json()["failure_reason"] == "citizen_absent"
    alert = (await session.execute(select(WelfareAlert))).scalars().one()
    assert alert.order_id == third


async def test_another_providers_token_sees_and_moves_nothing(
    app, session, kitchen, diner, settings
):
    day = days_ahead(3)
    order_id = await place(session, kitchen, diner, day, "theirs")
    rival = await make_provider(session, name="Konkurrenten ApS", cvr="20000008")
    boss = await make_user(
        session, "chef@konkurrenten.dk", Role.PROVIDER_ADMIN, provider_id=rival.id
    )
    issued = await auth_service.create_api_token(
        session,
        actor=auth_service.actor_for(boss),
        settings=settings,
        name="Andet køkken",
        scopes=["kitchen.orders"],
    )
    await session.commit()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {issued.secret}"},
    ) as other:
        assert (await other.get("/api/v1/kitchen/orders")).json() == []
        response = await other.post(f"/api/v1/kitchen/orders/{order_id}/accept")
        assert response.status_code == 404
        bulk = await other.post("/api/v1/kitchen/orders/accept", json={"order_ids": [order_id]})
        assert bulk.status_code == 404
    assert await status_of(session, order_id) == OrderStatus.PLACED


async def test_citizens_cannot_use_the_kitchen_api(client, session, kitchen, diner):
    from tests.factories import api_headers, login

    await login(client, "sagsbehandler@aarhus.dk")
    response = await client.get("/api/v1/kitchen/orders", headers=api_headers(client))
    assert response.status_code == 403


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()


async def test_signed_webhooks_for_a_new_and_a_cancelled_order(
    session, kitchen, diner, settings, receiver
):
    from datetime import time

    # The receiver runs on this machine: a setting for tests and development only.
    settings = settings.model_copy(update={"webhook_allow_private": True})
    profile = await providers.save_ordering_profile(
        session,
        actor=kitchen.admin,
        cutoff_days_before=1,
        cutoff_time=time(14, 0),
        window_start=time(11, 0),
        window_end=time(13, 0),
        accept_within_hours=4,
        auto_accept=False,
        webhook_url=receiver,
        settings=settings,
    )
    secret = profile.webhook_secret
    assert secret
    day = days_ahead(3)
    order_id = await place(session, kitchen, diner, day, "hooked")
    report = await outbox.deliver_due(same_connection(session), settings=settings)
    assert report.delivered == 1
    [(headers, body)] = Receiver.received
    assert delivery.verify_signature(secret, body, headers["X-Velfaerd-Signature"])
    assert not delivery.verify_signature("wrong-secret", body, headers["X-Velfaerd-Signature"])
    payload = json.loads(body)
    assert payload["event"] == "order.placed" and payload["data"]["order_id"] == order_id

    await service.cancel_order(session, actor=diner.me, order_id=order_id, now=noon_before(day))
    await session.commit()
    report = await outbox.deliver_due(same_connection(session), settings=settings)
    assert report.delivered == 1
    headers, body = Receiver.received[1]
    assert delivery.verify_signature(secret, body, headers["X-Velfaerd-Signature"])
    payload = json.loads(body)
    assert payload["event"] == "order.cancelled"
    assert payload["data"] == {
        "order_id": order_id,
        "delivery_on": day.isoformat(),
        "offer_id": kitchen.offer.id,
        "units": 1,
        "status": "cancelled",
    }


async def test_after_a_secret_rotation_orders_are_signed_with_both_secrets(
    session, kitchen, diner, settings, receiver
):
    from datetime import time

    settings = settings.model_copy(update={"webhook_allow_private": True})
    profile = await providers.save_ordering_profile(
        session,
        actor=kitchen.admin,
        cutoff_days_before=1,
        cutoff_time=time(14, 0),
        window_start=time(11, 0),
        window_end=time(13, 0),
        accept_within_hours=4,
        auto_accept=False,
        webhook_url=receiver,
        settings=settings,
    )
    old = profile.webhook_secret
    rotated = await providers.rotate_webhook_secret(session, actor=kitchen.admin, settings=settings)
    new = rotated.webhook_secret
    await place(session, kitchen, diner, days_ahead(3), "rotated")
    assert (await outbox.deliver_due(same_connection(session), settings=settings)).delivered == 1
    [(headers, body)] = Receiver.received
    header = headers["X-Velfaerd-Signature"]
    assert header.count("v1=") == 2
    assert delivery.verify_signature(new, body, header)
    assert delivery.verify_signature(old, body, header)
