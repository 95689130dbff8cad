"""A provider's webhook signing secret can be rotated, with a grace period in
which both secrets sign (issue 15, 'Smaller gaps': secret rotation)."""

import json
import threading
import uuid
from datetime import time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import delete, select

from market.audit.models import AuditEvent
from market.auth import service as auth_service
from market.db import create_sessionmaker, utcnow
from market.errors import Conflict, PermissionDenied
from market.outbox import delivery
from market.outbox import service as outbox
from market.outbox.models import OutboxMessage
from providers import service
from providers.models import OrderingProfile
from tests.factories import api_headers, login, post_form

ADMIN = "chef@godekoekken.dk"


async def _with_webhook(session, world, settings):
    admin = auth_service.actor_for(world.user("provider_admin"))
    development = settings.model_copy(update={"environment": "development"})
    await service.save_ordering_profile(
        session,
        actor=admin,
        cutoff_days_before=1,
        cutoff_time=time(14, 0),
        window_start=time(11, 0),
        window_end=time(13, 0),
        accept_within_hours=4,
        auto_accept=False,
        webhook_url="https://koekken.example/hooks",
        settings=development,
    )
    return admin


async def test_rotation_keeps_the_old_secret_signing_for_the_grace_period(session, world, settings):
    admin = await _with_webhook(session, world, settings)
    profile = await service.own_ordering_profile(session, actor=admin)
    old = profile.webhook_secret
    now = utcnow()
    rotated = await service.rotate_webhook_secret(session, actor=admin, settings=settings, now=now)
    assert rotated.webhook_secret not in (None, old)
    assert rotated.signing_secrets(now) == [rotated.webhook_secret, old]
    grace = timedelta(hours=settings.webhook_secret_grace_hours)
    assert rotated.signing_secrets(now + grace) == [rotated.webhook_secret]

    event = (
        await session.execute(
            select(AuditEvent).where(AuditEvent.action == "ordering_profile.webhook_secret_rotated")
        )
    ).scalar_one()
    assert event.actor_user_id == admin.user_id
    assert old not in event.data_json and rotated.webhook_secret not in event.data_json


async def test_only_the_administrator_rotates_and_only_when_there_is_a_webhook(
    session, world, settings
):
    admin = auth_service.actor_for(world.user("provider_admin"))
    with pytest.raises(Conflict):
        await service.rotate_webhook_secret(session, actor=admin, settings=settings)
    await _with_webhook(session, world, settings)
    staff = auth_service.actor_for(world.user("provider_staff"))
    with pytest.raises(PermissionDenied):
        await service.rotate_webhook_secret(session, actor=staff, settings=settings)


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


async def test_during_the_grace_period_a_webhook_carries_both_signatures(engine, settings):
    Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    maker = create_sessionmaker(engine)
    key = f"rotation-{uuid.uuid4().hex[:8]}"
    try:
        async with maker() as session, session.begin():
            await outbox.enqueue_webhook(
                session,
                idempotency_key=key,
                url=f"http://127.0.0.1:{server.server_address[1]}/hook",
                secret=["new-secret", "old-secret"],
                event="order.placed",
                data={"order_id": 1},
            )
        allowed = settings.model_copy(update={"webhook_allow_private": True})
        assert (await outbox.deliver_due(maker, settings=allowed)).delivered == 1
    finally:
        server.shutdown()
        async with maker() as session, session.begin():
            await session.execute(delete(OutboxMessage).where(OutboxMessage.idempotency_key == key))
    [(headers, body)] = Receiver.received
    header = headers[delivery.SIGNATURE_HEADER]
    assert header.count("v1=") == 2
    assert delivery.verify_signature("new-secret", body, header)
    assert delivery.verify_signature("old-secret", body, header)
    assert not delivery.verify_signature("other", body, header)
    assert json.loads(body)["data"] == {"order_id": 1}


async def test_the_page_rotates_and_says_until_when_the_old_one_signs(client, session, world):
    await login(client, ADMIN)
    refused = await post_form(client, "/provider/ordering/webhook-secret")
    assert refused.status_code == 409
    assert "no webhook address yet" in refused.text
    values = {
        "cutoff_days_before": "1",
        "cutoff_time": "14:00",
        "window_start": "11:00",
        "window_end": "13:00",
        "accept_within_hours": "4",
        "webhook_url": "https://93.184.215.14/hooks",
    }
    assert (await post_form(client, "/provider/ordering", values)).status_code == 303
    old = (await session.execute(select(OrderingProfile))).scalar_one().webhook_secret
    done = await post_form(client, "/provider/ordering/webhook-secret")
    assert done.status_code == 303
    page = await client.get(done.headers["location"])
    profile = (await session.execute(select(OrderingProfile))).scalar_one()
    assert profile.webhook_secret != old and profile.webhook_secret in page.text
    assert "A new signing secret is made." in page.text
    assert "two v1 entries" in page.text
    assert old not in page.text  # the old one is never shown again


async def test_the_api_rotates_for_the_administrator_only(client, session, world, settings):
    await _with_webhook(session, world, settings)
    await session.commit()
    await login(client, "kok@godekoekken.dk")
    assert (
        await client.post("/api/v1/provider/webhook-secret/rotate", headers=api_headers(client))
    ).status_code == 403
    await login(client, ADMIN)
    response = await client.post(
        "/api/v1/provider/webhook-secret/rotate", headers=api_headers(client)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    profile = (await session.execute(select(OrderingProfile))).scalar_one()
    assert body["secret"] == profile.webhook_secret and body["previous_signs_until"]
