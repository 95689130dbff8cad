"""Stripe's webhook events: checked, stored once, applied to card payments."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from market.config import Settings
from market.db import utcnow
from market.lifecycle import may_become
from market.payments import repository
from market.payments.exceptions import (
    BadWebhookSignature,
    WebhookNotConfigured,
)
from market.payments.models import (
    CARD_PAYMENT_TRANSITIONS,
    CardPaymentStatus,
)
from market.payments.moves import record_move

S = CardPaymentStatus

WEBHOOK_TOLERANCE_SECONDS = 300

# --- Stripe webhooks -------------------------------------------------------------------

# Which payment status each PaymentIntent event reports.
_EVENT_STATUS = {
    "payment_intent.amount_capturable_updated": S.AUTHORIZED,
    "payment_intent.succeeded": S.CAPTURED,
    "payment_intent.canceled": S.RELEASED,
    "payment_intent.payment_failed": S.DECLINED,
}


_INTENT_STATUS = {
    "requires_capture": S.AUTHORIZED,
    "succeeded": S.CAPTURED,
    "canceled": S.RELEASED,
}


@dataclass(frozen=True)
class WebhookReceipt:
    event_id: str
    type: str
    duplicate: bool
    outcome: str


async def receive_stripe_event(
    session: AsyncSession,
    *,
    payload: bytes,
    signature: str | None,
    settings: Settings,
    now: datetime | None = None,
) -> WebhookReceipt:
    """Checks Stripe's signature on the raw body, stores the event once by its
    id and applies it. A replayed event changes nothing; an event that would
    move a payment backwards (it arrived late) is stored and ignored."""
    if settings.stripe_webhook_secret is None:
        raise WebhookNotConfigured()
    try:
        text = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(
            text,
            signature or "",
            settings.stripe_webhook_secret.get_secret_value(),
            WEBHOOK_TOLERANCE_SECONDS,
        )
        event = json.loads(text)
        event_id, event_type = str(event["id"]), str(event["type"])
    except (stripe.SignatureVerificationError, ValueError, KeyError, TypeError) as exc:
        raise BadWebhookSignature() from exc
    now = now or utcnow()
    created = event.get("created")
    if not await repository.insert_event(
        session,
        {
            "id": event_id[:100],
            "type": event_type[:100],
            "created_at_gateway": datetime.fromtimestamp(created, UTC)
            if isinstance(created, int)
            else None,
            "received_at": now,
            "payload_json": text,
            "outcome": "",
        },
    ):
        stored = await repository.get_event(session, event_id)
        return WebhookReceipt(
            event_id, event_type, True, stored.outcome if stored else "already received"
        )
    outcome = await _apply_event(session, event_id, event_type, event, now)
    await repository.finish_event(session, event_id=event_id, outcome=outcome, processed_at=now)
    return WebhookReceipt(event_id, event_type, False, outcome)


async def _apply_event(
    session: AsyncSession, event_id: str, event_type: str, event: dict, now: datetime
) -> str:
    to = _EVENT_STATUS.get(event_type)
    if to is None:
        return "not handled"
    intent = (event.get("data") or {}).get("object") or {}
    # The intent's own status is the truth at the moment of the event (a test
    # double may say "succeeded" for an authorisation still to be captured).
    to = _INTENT_STATUS.get(str(intent.get("status")), to)
    reference = intent.get("id")
    if not isinstance(reference, str):
        return "no payment intent in the event"
    metadata = intent.get("metadata") or {}
    payment = await repository.card_payment_by_reference_or_key(
        session, reference=reference, key=metadata.get("card_payment_key")
    )
    if payment is None:
        return f"no card payment for {reference}"
    before = payment.status
    if payment.status == to:
        return f"already {to.value}"
    # A failed attempt reported after a later success must not undo it.
    backwards = to == S.DECLINED and payment.status != S.AUTHORIZING
    if backwards or not may_become(CARD_PAYMENT_TRANSITIONS, payment.status, to):
        return f"ignored: the payment is {payment.status.value}, an event cannot make it {to.value}"
    values: dict[str, object] = {"updated_at": now}
    if payment.gateway_reference is None:
        values["gateway_reference"] = reference
    if to == S.DECLINED:
        error = intent.get("last_payment_error") or {}
        values["last_error"] = str(error.get("message") or "declined (webhook)")[:2000]
    if not await record_move(
        session, payment, to=to, values=values, data={"event_id": event_id, "via": "webhook"}
    ):
        return "changed meanwhile; nothing done"
    return f"{before.value} -> {to.value}"
