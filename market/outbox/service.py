"""Enqueue effects in the caller's transaction; deliver them after commit.

Delivery claims each message in its own short transaction, sends with no
transaction open, and records the outcome in another: nothing calls out while
locks are held, and a crash between send and record means at most a repeat
(receivers get a stable Idempotency-Key to drop it), never a loss."""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.config import Settings
from market.db import utcnow
from market.outbox import delivery, repository
from market.outbox.models import OutboxKind, OutboxMessage

# A claimed message is not retried by another worker before this lease ends.
CLAIM_LEASE = timedelta(minutes=5)


async def enqueue_email(
    session: AsyncSession,
    *,
    settings: Settings,
    idempotency_key: str,
    to: list[str],
    subject: str,
    body: str,
    municipality_id: int | None = None,
) -> bool:
    """Returns False (and queues nothing) when no SMTP server is configured."""
    if settings.smtp_host is None or not to:
        return False
    await repository.add_once(
        session,
        kind=OutboxKind.EMAIL,
        idempotency_key=idempotency_key,
        payload_json=json.dumps({"to": to, "subject": subject, "body": body}),
        municipality_id=municipality_id,
    )
    return True


async def enqueue_webhook(
    session: AsyncSession,
    *,
    idempotency_key: str,
    url: str,
    secret: str | list[str],
    event: str,
    data: dict[str, Any],
    municipality_id: int | None = None,
) -> None:
    """`secret` may be several during a secret rotation: each one signs."""
    await repository.add_once(
        session,
        kind=OutboxKind.WEBHOOK,
        idempotency_key=idempotency_key,
        payload_json=json.dumps(
            {
                "url": url,
                "secret": secret,
                "event": event,
                "data": data,
                "idempotency_key": idempotency_key,
            }
        ),
        municipality_id=municipality_id,
    )


def backoff(settings: Settings, attempts: int) -> timedelta:
    seconds = settings.outbox_backoff_base_seconds * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.outbox_backoff_max_seconds))


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    gave_up: int = 0


async def _send(settings: Settings, message: OutboxMessage) -> None:
    payload = json.loads(message.payload_json)
    if message.kind == OutboxKind.EMAIL:
        await delivery.send_email(
            settings, to=payload["to"], subject=payload["subject"], body=payload["body"]
        )
    else:
        await delivery.post_webhook(
            settings,
            url=payload["url"],
            secret=payload["secret"],
            event=payload["event"],
            data=payload["data"],
            idempotency_key=payload["idempotency_key"],
        )


async def deliver_due(
    sessions: async_sessionmaker[AsyncSession],
    *,
    settings: Settings,
    now: datetime | None = None,
    limit: int = 100,
) -> DeliveryReport:
    now = now or utcnow()
    report = DeliveryReport()
    async with sessions() as session:
        candidates = [
            (m.id, m.attempts) for m in await repository.due(session, now=now, limit=limit)
        ]
    for message_id, attempts in candidates:
        assert message_id is not None
        async with sessions() as session, session.begin():
            claimed = await repository.claim(
                session,
                message_id=message_id,
                seen_attempts=attempts,
                lease_until=now + CLAIM_LEASE,
            )
            message = await repository.get(session, message_id) if claimed else None
        if message is None:
            continue  # another worker has it
        try:
            await _send(settings, message)
        except delivery.DeliveryError as exc:
            gave_up = message.attempts >= settings.outbox_max_attempts
            async with sessions() as session, session.begin():
                await repository.mark_failed(
                    session,
                    message_id=message_id,
                    error=str(exc),
                    retry_at=None if gave_up else now + backoff(settings, message.attempts),
                )
            if gave_up:
                report.gave_up += 1
            else:
                report.retrying += 1
            continue
        async with sessions() as session, session.begin():
            await repository.mark_delivered(session, message_id=message_id, when=utcnow())
        report.delivered += 1
    return report
