"""The two ways out: e-mail over SMTP and signed webhooks over HTTP."""

import hashlib
import hmac
import json
import time
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx

from market.config import Settings

SIGNATURE_HEADER = "X-Velfaerd-Signature"


class DeliveryError(Exception):
    """The receiver could not be reached or refused; the outbox retries."""


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """Stripe-style: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>. The
    timestamp in the signed material stops an old message being replayed."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify_signature(
    secret: str, body: bytes, header: str, *, tolerance_seconds: int = 300, now: int | None = None
) -> bool:
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or int(time.time())) - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret, body, timestamp).split("v1=")[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


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
            start_tls=settings.smtp_starttls,
            timeout=30,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"e-mail to {', '.join(to)} failed: {exc}") from exc


async def post_webhook(
    settings: Settings,
    *,
    url: str,
    secret: str,
    event: str,
    data: dict[str, Any],
    idempotency_key: str,
) -> None:
    body = json.dumps({"event": event, "data": data}, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Velfaerd-Event": event,
        "Idempotency-Key": idempotency_key,
        SIGNATURE_HEADER: sign(secret, body, int(time.time())),
    }
    try:
        async with httpx.AsyncClient(timeout=settings.webhook_timeout_seconds) as client:
            response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook to {url} failed: {exc}") from exc
    if response.status_code >= 300:
        raise DeliveryError(f"webhook to {url} answered {response.status_code}")
