"""The outbox against a real SMTP server (aiosmtpd) and a real HTTP receiver."""

import json
import threading
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import delete, func, select

from market.db import create_sessionmaker, utcnow
from market.outbox import delivery
from market.outbox import service as outbox
from market.outbox.models import OutboxMessage, OutboxStatus


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content.decode()))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


class Receiver(BaseHTTPRequestHandler):
    statuses: list[int] = []
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        status = type(self).statuses.pop(0) if type(self).statuses else 200
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook_receiver():
    Receiver.statuses, Receiver.received = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", Receiver
    finally:
        server.shutdown()


@pytest.fixture
async def sessions(engine):
    """Delivery runs its own transactions, so these tests commit; they clean up after."""
    maker = create_sessionmaker(engine)
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    yield maker, prefix
    async with maker() as session, session.begin():
        await session.execute(delete(OutboxMessage))


async def test_email_is_delivered_once_after_commit(settings, sessions, smtp_server):
    maker, prefix = sessions
    port, inbox = smtp_server
    settings = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_tls": "none"}
    )
    for _ in range(2):  # a retried request enqueues the same key again
        async with maker() as session, session.begin():
            queued = await outbox.enqueue_email(
                session,
                settings=settings,
                idempotency_key=f"{prefix}:alert:1",
                to=["vagt@aarhus.example"],
                subject="Velfærdsalarm",
                body="Ingen åbnede døren.",
            )
            assert queued
    report = await outbox.deliver_due(maker, settings=settings)
    assert report.delivered == 1
    assert len(inbox.messages) == 1
    recipients, content = inbox.messages[0]
    assert recipients == ["vagt@aarhus.example"]
    assert "Subject: =?utf-8?q?Velf=C3=A6rdsalarm?=" in content
    again = await outbox.deliver_due(maker, settings=settings)
    assert again.delivered == 0 and len(inbox.messages) == 1


async def test_no_email_is_queued_without_smtp(settings, sessions):
    maker, prefix = sessions
    async with maker() as session, session.begin():
        assert not await outbox.enqueue_email(
            session,
            settings=settings,
            idempotency_key=f"{prefix}:x",
            to=["a@b.example"],
            subject="s",
            body="b",
        )
        count = await session.execute(select(func.count()).select_from(OutboxMessage))
        assert count.scalar_one() == 0


async def test_webhook_is_signed_retried_with_back_off_then_delivered(
    settings, sessions, webhook_receiver
):
    maker, prefix = sessions
    url, receiver = webhook_receiver
    receiver.statuses = [500]
    # The receiver runs on this machine: a setting for tests and development only.
    settings = settings.model_copy(update={"webhook_allow_private": True})
    key = f"{prefix}:order.placed:7"
    async with maker() as session, session.begin():
        await outbox.enqueue_webhook(
            session,
            idempotency_key=key,
            url=url,
            secret="whsec_test",
            event="order.placed",
            data={"order_id": 7},
        )
    now = utcnow()
    first = await outbox.deliver_due(maker, settings=settings, now=now)
    assert first.retrying == 1 and first.delivered == 0
    async with maker() as session:
        message = (await session.execute(select(OutboxMessage))).scalar_one()
        assert message.attempts == 1 and "answered 500" in message.last_error
        assert message.next_attempt_at >= now + timedelta(
            seconds=settings.outbox_backoff_base_seconds
        )
    # Not due yet: nothing is sent before the back-off has passed.
    assert (await outbox.deliver_due(maker, settings=settings, now=now)).delivered == 0
    later = now + timedelta(seconds=settings.outbox_backoff_base_seconds + 1)
    assert (await outbox.deliver_due(maker, settings=settings, now=later)).delivered == 1

    headers, body = receiver.received[-1]
    assert json.loads(body) == {"event": "order.placed", "data": {"order_id": 7}}
    assert headers["Idempotency-Key"] == key
    assert delivery.verify_signature("whsec_test", body, headers[delivery.SIGNATURE_HEADER])
    assert not delivery.verify_signature("wrong", body, headers[delivery.SIGNATURE_HEADER])
    assert not delivery.verify_signature(
        "whsec_test", body + b" ", headers[delivery.SIGNATURE_HEADER]
    )


async def test_unreachable_receiver_is_given_up_after_the_last_attempt(settings, sessions):
    maker, prefix = sessions
    settings = settings.model_copy(
        update={
            "outbox_max_attempts": 2,
            "webhook_timeout_seconds": 1,
            "webhook_allow_private": True,
        }
    )
    async with maker() as session, session.begin():
        await outbox.enqueue_webhook(
            session,
            idempotency_key=f"{prefix}:dead",
            url="http://127.0.0.1:9/nothing",
            secret="s",
            event="e",
            data={},
        )
    now = utcnow()
    assert (await outbox.deliver_due(maker, settings=settings, now=now)).retrying == 1
    final = await outbox.deliver_due(maker, settings=settings, now=now + timedelta(hours=2))
    assert final.gave_up == 1
    async with maker() as session:
        message = (await session.execute(select(OutboxMessage))).scalar_one()
        assert message.status == OutboxStatus.GAVE_UP and message.attempts == 2


def test_signatures_expire():
    header = delivery.sign("s", b"{}", 1_000_000)
    assert delivery.verify_signature("s", b"{}", header, now=1_000_100)
    assert not delivery.verify_signature("s", b"{}", header, now=1_000_400)
