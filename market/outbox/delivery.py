"""The two ways out: e-mail over SMTP and signed webhooks over HTTP."""

import hashlib
import hmac
import json
import ssl
import time
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx

from market.config import Settings
from market.outbox import guard

SIGNATURE_HEADER = "X-Velfaerd-Signature"


class DeliveryError(Exception):
    """The receiver could not be reached or refused; the outbox retries."""


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str | list[str], body: bytes, timestamp: int) -> str:
    """Stripe-style: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>. The
    timestamp in the signed material stops an old message being replayed.
    During a secret rotation each secret adds its own v1 entry, newest first,
    so a receiver holding either one accepts the message."""
    secrets = [secret] if isinstance(secret, str) else secret
    return ",".join([f"t={timestamp}", *(f"v1={_digest(s, body, timestamp)}" for s in secrets)])


def verify_signature(
    secret: str, body: bytes, header: str, *, tolerance_seconds: int = 300, now: int | None = None
) -> bool:
    items = [item.split("=", 1) for item in header.split(",") if "=" in item]
    stamps = [value for name, value in items if name == "t"]
    try:
        timestamp = int(stamps[0])
    except (IndexError, ValueError):
        return False
    if abs((now or int(time.time())) - timestamp) > tolerance_seconds:
        return False
    expected = _digest(secret, body, timestamp)
    return any(hmac.compare_digest(expected, value) for name, value in items if name == "v1")


def _tls_context(settings: Settings) -> ssl.SSLContext:
    """Verifies the server's certificate and name; never falls back to plain text."""
    return ssl.create_default_context(
        cafile=str(settings.smtp_ca_file) if settings.smtp_ca_file else None
    )


async def send_email(settings: Settings, *, to: list[str], subject: str, body: str) -> None:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message.set_content(body)
    try:
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            # start_tls=True requires STARTTLS (a server without it is an error, not
            # a reason to send in clear); None would fall back silently.
            use_tls=settings.smtp_tls == "implicit",
            start_tls=settings.smtp_tls == "starttls",
            tls_context=None if settings.smtp_tls == "none" else _tls_context(settings),
            timeout=30,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"e-mail to {', '.join(to)} failed: {exc}") from exc


def _webhook_tls(settings: Settings) -> ssl.SSLContext:
    """The system's CAs, plus MARKET_WEBHOOK_CA_FILE; the certificate must name the
    host the provider typed (sent as the TLS server name), not the address."""
    context = ssl.create_default_context()
    if settings.webhook_ca_file:
        context.load_verify_locations(cafile=str(settings.webhook_ca_file))
    return context


def webhook_may_use_private_addresses(settings: Settings) -> bool:
    return settings.webhook_allow_private


def webhook_may_use_http(settings: Settings) -> bool:
    return settings.environment == "development" or settings.webhook_allow_private


async def post_webhook(
    settings: Settings,
    *,
    url: str,
    secret: str | list[str],
    event: str,
    data: dict[str, Any],
    idempotency_key: str,
) -> None:
    """Posts to the address only after resolving it and checking every address it
    has; connects to the checked address (Host header and TLS server name stay
    the provider's name); follows no redirect."""
    allow_private = webhook_may_use_private_addresses(settings)
    try:
        target = guard.parse(url, allow_http=webhook_may_use_http(settings))
        address = await guard.pinned_address(target, allow_private=allow_private)
    except guard.UnsafeAddress as exc:
        raise DeliveryError(f"webhook to {url} refused: {exc}") from exc
    body = json.dumps({"event": event, "data": data}, separators=(",", ":")).encode()
    headers = {
        "Host": guard.host_header(target),
        "Content-Type": "application/json",
        "X-Velfaerd-Event": event,
        "Idempotency-Key": idempotency_key,
        SIGNATURE_HEADER: sign(secret, body, int(time.time())),
    }
    try:
        # trust_env=False: a proxy from the environment would resolve the name again.
        async with httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
            trust_env=False,
            verify=_webhook_tls(settings),
        ) as client:
            response = await client.post(
                guard.url_for(target, address),
                content=body,
                headers=headers,
                extensions={"sni_hostname": target.host},
            )
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook to {url} failed: {exc}") from exc
    if response.status_code >= 300:
        raise DeliveryError(f"webhook to {url} answered {response.status_code}")
