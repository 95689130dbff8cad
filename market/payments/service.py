"""Co-payments by card, the citizen's choice of how to pay, and Stripe's
webhook events.

The order's own transaction only records what it wants (authorise, capture or
release); ``process_card_payments`` then brings each payment there, one
gateway call at a time: claim the payment in a short transaction, call the
gateway with no transaction open, record the result in another. Every call
carries a key derived from the order, so a call repeated after a crash or a
network fault never moves money twice."""

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

import stripe
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.audit import service as audit
from market.auth.permissions import Actor
from market.clock import local_instant
from market.config import Settings
from market.db import utcnow
from market.municipalities import service as municipalities
from market.payments import repository
from market.payments.exceptions import (
    BadWebhookSignature,
    CardNeeded,
    CardNotAccepted,
    PaymentGatewayDown,
    WebhookNotConfigured,
)
from market.payments.gateway import (
    GatewayUnavailable,
    OfflineGateway,
    PaymentGateway,
    PaymentRefused,
)
from market.payments.models import (
    CARD_PAYMENT_TRANSITIONS,
    FINAL_CARD_PAYMENT_STATUSES,
    CardPayment,
    CardPaymentStatus,
    CopaymentMethod,
)

log = logging.getLogger("market.payments")

# A claimed payment is left alone this long (the call is under way, or the
# worker died: then the next round after the lease repeats it, same key).
CLAIM_LEASE = timedelta(minutes=5)
BACKOFF_BASE_SECONDS = 30
# A card hold lasts about 7 days (Stripe's default for online card payments)
# and is captured on the delivery day, so an order placed further ahead (a
# standing order, a week planned at once) is authorised 6 days before delivery
# rather than at once; nearer orders are authorised when placed.
AUTHORIZE_DAYS_BEFORE_DELIVERY = 6
BACKOFF_MAX_SECONDS = 3600
# A release the gateway refuses (the payment was captured elsewhere) needs a person.
REFUSED_RELEASE_RETRY = timedelta(days=1)
WEBHOOK_TOLERANCE_SECONDS = 300

S = CardPaymentStatus

# --- the gateway ----------------------------------------------------------------

_offline = OfflineGateway()
_stripe_gateways: dict[tuple[str, str | None], PaymentGateway] = {}


def get_gateway(settings: Settings) -> PaymentGateway:
    """The configured gateway: the offline one is a single ledger for the whole
    process (the demo); Stripe's client is made once per key and address."""
    if settings.payment_gateway == "offline":
        return _offline
    from market.payments.stripe_gateway import StripeGateway

    api_key = settings.stripe_api_key.get_secret_value() if settings.stripe_api_key else ""
    cache_key = (api_key, settings.stripe_api_base)
    if cache_key not in _stripe_gateways:
        _stripe_gateways[cache_key] = StripeGateway(settings)
    return _stripe_gateways[cache_key]


# --- how a citizen pays -----------------------------------------------------------


@dataclass(frozen=True)
class PaymentChoice:
    citizen_id: int
    method: CopaymentMethod
    card_label: str | None
    has_card: bool
    gateway: str

    @property
    def by_card(self) -> bool:
        return self.method == CopaymentMethod.CARD


async def payment_choice(
    session: AsyncSession, *, citizen_id: int, settings: Settings
) -> PaymentChoice:
    """How this citizen's co-payment is paid (no row: the monthly statement)."""
    row = await repository.get_method(session, citizen_id)
    return PaymentChoice(
        citizen_id=citizen_id,
        method=row.method if row else CopaymentMethod.INVOICE,
        card_label=row.card_label if row else None,
        has_card=bool(row and row.gateway_payment_method_id),
        gateway=settings.payment_gateway,
    )


async def choose_payment_method(
    session: AsyncSession,
    *,
    acting: Actor,
    citizen_id: int,
    municipality_id: int,
    method: CopaymentMethod,
    settings: Settings,
    gateway: PaymentGateway,
    payment_method_id: str | None = None,
    citizen_name: str = "",
    citizen_email: str | None = None,
) -> PaymentChoice:
    """Sets how the citizen pays. The caller has checked that ``acting`` may act
    for this citizen. Card: with the offline gateway a demo card is used; with
    Stripe a PaymentMethod made by Stripe.js or at the service desk
    (``payment_method_id``) is attached to the citizen's Customer. Orders
    already placed keep the way they were paid."""
    row = await repository.get_method(session, citizen_id)
    customer_id = row.gateway_customer_id if row else None
    pm_id = row.gateway_payment_method_id if row else None
    label = row.card_label if row else None
    if method == CopaymentMethod.CARD:
        payment_method_id = (payment_method_id or "").strip() or None
        if payment_method_id is None and settings.payment_gateway == "offline" and pm_id is None:
            payment_method_id = "pm_card_visa"  # the demo card
        if payment_method_id is not None and payment_method_id != pm_id:
            if len(payment_method_id) > 100 or not payment_method_id.startswith("pm_"):
                raise CardNotAccepted("a Stripe PaymentMethod id starts with pm_")
            try:
                registration = await gateway.register_card(
                    customer_id=customer_id,
                    payment_method_id=payment_method_id,
                    email=citizen_email,
                    name=citizen_name,
                )
            except PaymentRefused as exc:
                raise CardNotAccepted(str(exc)) from exc
            except GatewayUnavailable as exc:
                raise PaymentGatewayDown() from exc
            customer_id = registration.customer_id
            pm_id = registration.payment_method_id
            label = registration.label
        if pm_id is None:
            raise CardNeeded()
    now = utcnow()
    await repository.save_method(
        session,
        {
            "citizen_id": citizen_id,
            "method": method,
            "gateway_customer_id": customer_id,
            "gateway_payment_method_id": pm_id,
            "card_label": label,
            "updated_by_user_id": acting.user_id,
            "updated_at": now,
        },
    )
    await audit.record(
        session,
        actor=acting,
        action="payment_method.chosen",
        entity_type="citizen",
        entity_id=citizen_id,
        municipality_id=municipality_id,
        data={"method": method, "card_label": label if method == CopaymentMethod.CARD else None},
    )
    return await payment_choice(session, citizen_id=citizen_id, settings=settings)


async def card_payments_of_citizen(
    session: AsyncSession, *, citizen_id: int
) -> Sequence[CardPayment]:
    """The citizen's recent card payments, newest first."""
    return await repository.card_payments_of_citizen(session, citizen_id)


# --- the order's outcome (called inside the order's transaction) ----------------------


class CopaymentDue(StrEnum):
    OWED = "owed"  # delivered, or cancelled after the cut-off
    NOT_OWED = "not_owed"  # rejected, expired, cancelled in time, the provider's failure
    CITIZEN_ABSENT = "citizen_absent"  # the municipality's setting decides


def copayment_key(order_id: int) -> str:
    return f"copay:{order_id}"


async def record_order_placed(
    session: AsyncSession,
    *,
    order_id: int,
    citizen_id: int,
    municipality_id: int,
    amount_ore: int,
    delivery_on: date | None = None,
    now: datetime | None = None,
) -> CardPayment | None:
    """A citizen who pays by card gets a payment to authorise; nothing is sent
    now (the worker does it after the order's transaction has committed, and
    not before the hold would last until the delivery day)."""
    choice = await repository.get_method(session, citizen_id)
    if choice is None or choice.method != CopaymentMethod.CARD or amount_ore <= 0:
        return None
    now = now or utcnow()
    authorize_at = now
    if delivery_on is not None:
        earliest = local_instant(
            delivery_on - timedelta(days=AUTHORIZE_DAYS_BEFORE_DELIVERY), time(0, 0)
        )
        authorize_at = max(now, earliest)
    payment_id = await repository.insert_card_payment(
        session,
        {
            "order_id": order_id,
            "citizen_id": citizen_id,
            "municipality_id": municipality_id,
            "amount_ore": amount_ore,
            "status": S.AUTHORIZING,
            "wanted": S.AUTHORIZED,
            "idempotency_key": copayment_key(order_id),
            "attempts": 0,
            "next_attempt_at": authorize_at,
            "created_at": now,
            "updated_at": now,
        },
    )
    if payment_id is None:
        return await repository.card_payment_of_order(session, order_id)
    return await repository.get_card_payment(session, payment_id)


async def record_order_outcome(
    session: AsyncSession,
    *,
    order_id: int,
    municipality_id: int,
    due: CopaymentDue,
    now: datetime | None = None,
) -> CardPayment | None:
    """Sets where the order's card payment (if any) should end: captured when
    the co-payment is owed, released when not. A declined payment stays
    declined: that co-payment goes on the monthly statement."""
    payment = await repository.card_payment_of_order(session, order_id)
    if payment is None or payment.status in FINAL_CARD_PAYMENT_STATUSES:
        return payment
    if due == CopaymentDue.CITIZEN_ABSENT:
        municipality = await municipalities.get(session, municipality_id=municipality_id)
        owed = municipality.charge_copayment_when_absent
        due = CopaymentDue.OWED if owed else CopaymentDue.NOT_OWED
    wanted = S.CAPTURED if due == CopaymentDue.OWED else S.RELEASED
    await repository.want(session, order_id=order_id, wanted=wanted, now=now or utcnow())
    return await repository.card_payment_of_order(session, order_id)


# --- the worker ------------------------------------------------------------------


@dataclass
class CardPaymentRun:
    authorized: int = 0
    captured: int = 0
    released: int = 0
    declined: int = 0
    retrying: int = 0
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int) -> timedelta:
    return timedelta(
        seconds=min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    )


@dataclass(frozen=True)
class _Claim:
    payment: CardPayment
    operation: str  # authorize | capture | release
    attempt: int  # this call's number, for the back-off
    customer_id: str | None = None
    payment_method_id: str | None = None


async def _record(
    session: AsyncSession,
    payment: CardPayment,
    *,
    to: CardPaymentStatus,
    values: dict[str, object],
    data: dict[str, object],
    never_attempted: bool = False,
) -> bool:
    """Moves the payment if it still is where the worker found it; the audit
    event is the last write. False: a webhook or another worker got there first."""
    assert payment.id is not None
    before = payment.status  # the UPDATE below also refreshes the loaded object
    if to not in CARD_PAYMENT_TRANSITIONS[before]:
        return False
    if not await repository.move_card_payment(
        session,
        payment_id=payment.id,
        current=before,
        values={"status": to, **values},
        never_attempted=never_attempted,
    ):
        return False
    await audit.record(
        session,
        actor=None,
        action=f"card_payment.{to.value}",
        entity_type="card_payment",
        entity_id=payment.id,
        municipality_id=payment.municipality_id,
        data={
            "order_id": payment.order_id,
            "citizen_id": payment.citizen_id,
            "amount_ore": payment.amount_ore,
            "from": before,
            "to": to,
            "idempotency_key": payment.idempotency_key,
            **data,
        },
    )
    return True


async def _claim(
    sessions: async_sessionmaker[AsyncSession], payment_id: int, now: datetime, run: CardPaymentRun
) -> _Claim | None:
    async with sessions() as session, session.begin():
        payment = await repository.get_card_payment(session, payment_id)
        if (
            payment is None
            or payment.status in FINAL_CARD_PAYMENT_STATUSES
            or payment.status == payment.wanted
            or payment.next_attempt_at > now
        ):
            return None
        if payment.status == S.AUTHORIZING and payment.wanted == S.RELEASED:
            if payment.attempts == 0:
                # Never sent to the gateway: there is no hold to lift.
                if await _record(
                    session,
                    payment,
                    to=S.RELEASED,
                    values={"updated_at": now, "next_attempt_at": now},
                    data={"note": "never authorised"},
                    never_attempted=True,
                ):
                    run.released += 1
                return None
            # It may have reached the gateway before a crash: authorising again
            # under the same key finds that authorisation, which is then released.
        customer_id = payment_method_id = None
        if payment.status == S.AUTHORIZING:
            operation = "authorize"
            method = await repository.get_method(session, payment.citizen_id)
            customer_id = method.gateway_customer_id if method else None
            payment_method_id = method.gateway_payment_method_id if method else None
        elif payment.wanted == S.CAPTURED:
            operation = "capture"
        else:
            operation = "release"
        attempt = payment.attempts + 1
        if not await repository.claim(
            session,
            payment_id=payment_id,
            status=payment.status,
            attempts=payment.attempts,
            now=now,
            lease_until=now + CLAIM_LEASE,
        ):
            return None
        return _Claim(payment, operation, attempt, customer_id, payment_method_id)


async def _call(claim: _Claim, gateway: PaymentGateway) -> str | None:
    """The gateway call, outside any transaction. Returns the reference, if new."""
    payment = claim.payment
    key = f"{payment.idempotency_key}:{claim.operation}"
    if claim.operation == "authorize":
        authorization = await gateway.authorize(
            amount_ore=payment.amount_ore,
            customer_id=claim.customer_id,
            payment_method_id=claim.payment_method_id,
            idempotency_key=key,
            metadata={
                "order_id": str(payment.order_id),
                "card_payment_key": payment.idempotency_key,
            },
        )
        return authorization.reference
    assert payment.gateway_reference is not None
    if claim.operation == "capture":
        await gateway.capture(reference=payment.gateway_reference, idempotency_key=key)
    else:
        await gateway.release(reference=payment.gateway_reference, idempotency_key=key)
    return None


_RESULT = {"authorize": S.AUTHORIZED, "capture": S.CAPTURED, "release": S.RELEASED}


async def _finish(
    sessions: async_sessionmaker[AsyncSession],
    claim: _Claim,
    *,
    now: datetime,
    reference: str | None = None,
    error: Exception | None = None,
    run: CardPaymentRun,
) -> bool:
    """Records the call's outcome; True when there may be a next step."""
    payment = claim.payment
    assert payment.id is not None
    async with sessions() as session, session.begin():
        if error is None:
            to = _RESULT[claim.operation]
            values: dict[str, object] = {
                "updated_at": now,
                "next_attempt_at": now,
                "last_error": None,
            }
            if reference is not None:
                values["gateway_reference"] = reference
            if await _record(session, payment, to=to, values=values, data={"reference": reference}):
                setattr(run, to.value, getattr(run, to.value) + 1)
            return to == S.AUTHORIZED
        if isinstance(error, PaymentRefused) and claim.operation != "release":
            values = {"updated_at": now, "last_error": str(error)}
            if error.reference and payment.gateway_reference is None:
                values["gateway_reference"] = error.reference
            if await _record(
                session, payment, to=S.DECLINED, values=values, data={"reason": str(error)}
            ):
                run.declined += 1
            return False
        retry_at = now + (
            REFUSED_RELEASE_RETRY if isinstance(error, PaymentRefused) else backoff(claim.attempt)
        )
        await repository.update_card_payment(
            session,
            payment_id=payment.id,
            values={
                "last_error": str(error)[:2000],
                "next_attempt_at": retry_at,
                "updated_at": now,
            },
        )
        run.retrying += 1
        run.errors.append(f"card payment {payment.id}: {error}")
        return False


async def process_card_payments(
    sessions: async_sessionmaker[AsyncSession],
    *,
    settings: Settings,
    gateway: PaymentGateway,
    now: datetime | None = None,
    limit: int = 200,
) -> CardPaymentRun:
    """Brings due card payments to where their orders want them (tick). A
    payment delivered before its authorisation went out is authorised and
    then captured in the same round."""
    now = now or utcnow()
    run = CardPaymentRun()
    async with sessions() as session, session.begin():
        due = list(await repository.due_card_payments(session, now=now, limit=limit))
    for payment_id in due:
        for _step in range(3):  # authorise, then capture or release
            claim = await _claim(sessions, payment_id, now, run)
            if claim is None:
                break
            try:
                reference = await _call(claim, gateway)
            except (PaymentRefused, GatewayUnavailable) as exc:
                await _finish(sessions, claim, now=now, error=exc, run=run)
                break
            except Exception as exc:  # an unforeseen answer: unknown outcome, so retry
                log.exception("card payment %s: the gateway call failed", payment_id)
                unknown = GatewayUnavailable(f"{type(exc).__name__}: {exc}")
                await _finish(sessions, claim, now=now, error=unknown, run=run)
                break
            if not await _finish(sessions, claim, now=now, reference=reference, run=run):
                break
    return run


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
    if backwards or to not in CARD_PAYMENT_TRANSITIONS[payment.status]:
        return f"ignored: the payment is {payment.status.value}, an event cannot make it {to.value}"
    values: dict[str, object] = {"updated_at": now}
    if payment.gateway_reference is None:
        values["gateway_reference"] = reference
    if to == S.DECLINED:
        error = intent.get("last_payment_error") or {}
        values["last_error"] = str(error.get("message") or "declined (webhook)")[:2000]
    if not await _record(
        session, payment, to=to, values=values, data={"event_id": event_id, "via": "webhook"}
    ):
        return "changed meanwhile; nothing done"
    return f"{before.value} -> {to.value}"
