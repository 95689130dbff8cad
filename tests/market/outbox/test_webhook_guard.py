"""Webhooks go only to the public internet (issue 15, 'Webhooks (SSRF)'): checked
when a provider saves the address and again at delivery after resolving the
name, with the connection pinned to the checked address."""

import ipaddress
import threading
import uuid
from datetime import time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import delete, select

from market.config import Settings
from market.db import create_sessionmaker, utcnow
from market.errors import InvalidInput
from market.outbox import guard
from market.outbox import service as outbox
from market.outbox.models import OutboxMessage
from providers import service as providers
from tests.factories import login, post_form

REFUSED = [
    "https://127.0.0.1/hook",
    "https://127.1.2.3:8443/hook",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:10.0.0.1]/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://[fe80::1]/hook",
    "https://[fc00::1]/hook",
    "https://224.0.0.1/hook",
    "https://[ff02::1]/hook",
    "https://0.0.0.0/hook",
    "https://[::]/hook",
    "https://240.0.0.1/hook",
    "https://100.64.0.1/hook",
    "https://[2002:7f00:1::]/hook",  # 6to4 around 127.0.0.1
    "https://localhost/hook",
    "https://kitchen.localhost/hook",
]


class Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, str]] = []

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(dict(self.headers))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


class Redirector(Receiver):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(dict(self.headers))
        self.send_response(307)
        self.send_header("Location", "http://169.254.169.254/")
        self.end_headers()


def _serve(handler):
    handler.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def receiver():
    server = _serve(Receiver)
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture
async def sessions(engine):
    maker = create_sessionmaker(engine)
    yield maker, f"guard-{uuid.uuid4().hex[:8]}"
    async with maker() as session, session.begin():
        await session.execute(delete(OutboxMessage))


async def _enqueue(maker, key: str, url: str) -> None:
    async with maker() as session, session.begin():
        await outbox.enqueue_webhook(
            session, idempotency_key=key, url=url, secret="s", event="order.placed", data={"x": 1}
        )


async def _last_error(maker) -> str:
    async with maker() as session:
        message = (await session.execute(select(OutboxMessage))).scalar_one()
        return message.last_error or ""


@pytest.mark.parametrize("url", REFUSED)
def test_addresses_off_the_public_internet_are_refused(url):
    target = guard.parse(url, allow_http=False)
    address = guard.literal(target.host)
    if address is not None:
        assert guard.refused_because(address) is not None
    assert guard.refused_because(ipaddress.ip_address("93.184.215.14")) is None
    assert guard.refused_because(ipaddress.ip_address("2a00:1450:4001:80b::200e")) is None


async def _save(session, world, url, settings):
    from market.auth import service as auth_service

    admin = auth_service.actor_for(world.user("provider_admin"))
    return await providers.save_ordering_profile(
        session,
        actor=admin,
        cutoff_days_before=1,
        cutoff_time=time(14, 0),
        window_start=time(11, 0),
        window_end=time(13, 0),
        accept_within_hours=4,
        auto_accept=False,
        webhook_url=url,
        settings=settings,
    )


@pytest.mark.parametrize("url", REFUSED)
async def test_a_provider_cannot_save_an_inside_address(session, world, settings, url):
    with pytest.raises(InvalidInput) as refused:
        await _save(session, world, url, settings)
    assert "public internet" in str(refused.value)


async def test_plain_http_is_refused_outside_development(session, world, settings):
    with pytest.raises(InvalidInput) as refused:
        await _save(session, world, "http://koekken.example/hook", settings)
    assert "https://" in refused.value.sentence()
    development = settings.model_copy(update={"environment": "development"})
    saved = await _save(session, world, "http://koekken.example/hook", development)
    assert saved.webhook_url == "http://koekken.example/hook"


async def test_the_page_refuses_a_loopback_webhook_with_a_sentence(client, world):
    await login(client, "chef@godekoekken.dk")
    values = {
        "cutoff_days_before": "1",
        "cutoff_time": "14:00",
        "window_start": "11:00",
        "window_end": "13:00",
        "accept_within_hours": "4",
        "webhook_url": "http://127.0.0.1:8000/hook",
    }
    page = await post_form(client, "/provider/ordering", values)
    assert page.status_code == 422
    assert "must start with https://" in page.text


async def test_delivery_to_loopback_is_refused_by_default(settings, sessions, receiver):
    """A receiver really listens on 127.0.0.1: with the default settings it gets nothing."""
    maker, prefix = sessions
    assert settings.webhook_allow_private is False
    await _enqueue(maker, f"{prefix}:1", f"http://127.0.0.1:{receiver}/hook")
    await _enqueue(maker, f"{prefix}:2", f"https://localhost:{receiver}/hook")
    report = await outbox.deliver_due(maker, settings=settings)
    assert report.delivered == 0 and report.retrying == 2
    assert Receiver.received == []
    allowed = settings.model_copy(update={"webhook_allow_private": True})
    async with maker() as session, session.begin():
        await session.execute(
            delete(OutboxMessage).where(OutboxMessage.idempotency_key.like("%:2"))
        )

    later = utcnow() + timedelta(hours=2)
    assert (await outbox.deliver_due(maker, settings=allowed, now=later)).delivered == 1
    assert len(Receiver.received) == 1


async def test_a_name_resolving_to_an_inside_address_is_refused_at_delivery(
    settings, sessions, receiver
):
    maker, prefix = sessions
    await _enqueue(maker, f"{prefix}:n", f"https://localhost:{receiver}/hook")
    report = await outbox.deliver_due(maker, settings=settings)
    assert report.retrying == 1 and Receiver.received == []
    assert "resolves to" in await _last_error(maker) and "loopback" in await _last_error(maker)


async def test_the_connection_goes_to_the_checked_address_with_the_name_kept(
    settings, sessions, receiver, monkeypatch
):
    """DNS rebinding: the name is resolved once, checked, and the request goes to
    that address; nothing resolves it again (this name resolves nowhere)."""
    maker, prefix = sessions
    looked_up: list[str] = []

    async def resolve_once(host, port):
        looked_up.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(guard, "resolve", resolve_once)
    allowed = settings.model_copy(update={"webhook_allow_private": True})
    await _enqueue(maker, f"{prefix}:p", f"http://kitchen.invalid:{receiver}/hook?x=1")
    assert (await outbox.deliver_due(maker, settings=allowed)).delivered == 1
    assert looked_up == ["kitchen.invalid"]
    assert Receiver.received[-1]["Host"] == f"kitchen.invalid:{receiver}"


async def test_redirects_are_not_followed(settings, sessions):
    maker, prefix = sessions
    server = _serve(Redirector)
    try:
        allowed = settings.model_copy(update={"webhook_allow_private": True})
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        await _enqueue(maker, f"{prefix}:r", url)
        report = await outbox.deliver_due(maker, settings=allowed)
        assert report.retrying == 1 and len(Redirector.received) == 1
        assert "answered 307" in await _last_error(maker)
    finally:
        server.shutdown()


def test_production_refuses_the_loopback_setting():
    with pytest.raises(ValueError, match="MARKET_WEBHOOK_ALLOW_PRIVATE"):
        Settings(environment="production", secret_key="p" * 40, webhook_allow_private=True)


async def test_https_to_the_pinned_address_checks_the_certificate_for_the_name(
    settings, sessions, monkeypatch, tmp_path
):
    """Connected to the checked IP, the TLS server name and the certificate check
    are still the provider's host name: a certificate for the name passes, the
    same server under another name is refused."""
    import ssl

    from tests.smtp_servers import self_signed

    maker, prefix = sessions
    cert, key = self_signed(tmp_path, ("kitchen.test",))
    Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]

    async def resolve(host, port):
        return [ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(guard, "resolve", resolve)
    trusted = settings.model_copy(update={"webhook_allow_private": True, "webhook_ca_file": cert})
    try:
        await _enqueue(maker, f"{prefix}:tls", f"https://kitchen.test:{port}/hook")
        assert (await outbox.deliver_due(maker, settings=trusted)).delivered == 1
        assert Receiver.received[-1]["Host"] == f"kitchen.test:{port}"
        await _enqueue(maker, f"{prefix}:other", f"https://other.test:{port}/hook")
        assert (await outbox.deliver_due(maker, settings=trusted)).retrying == 1
        assert len(Receiver.received) == 1
    finally:
        server.shutdown()
