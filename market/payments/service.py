"""Co-payments by card, the citizen's choice of how to pay, and Stripe's
webhook events.

The order's own transaction only records what it wants (authorise, capture or
release); ``process_card_payments`` then brings each payment there, one
gateway call at a time: claim the payment in a short transaction, call the
gateway with no transaction open, record the result in another. Every call
carries a key derived from the order, so a call repeated after a crash or a
network fault never moves money twice."""

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.clock import local_instant
from market.config import Settings
from market.db import utcnow
from market.municipalities import service as municipalities
from market.payments import repository
from market.payments.gateway import (
    GatewayUnavailable,
    OfflineGateway,
    PaymentGateway,
    PaymentRefused,
)
from market.payments.methods.service import (
    PaymentChoice,
    card_payments_of_citizen,
    choose_payment_method,
    payment_choice,
)
from market.payments.models import (
    FINAL_CARD_PAYMENT_STATUSES,
    CardPayment,
    CardPaymentStatus,
    CopaymentMethod,
)
from market.payments.moves import record_move
from market.payments.webhooks.service import (
    WEBHOOK_TOLERANCE_SECONDS,
    WebhookReceipt,
    receive_stripe_event,
)

# The package's API: card payments (the order's outcome and the worker) live
# here; how a citizen pays and Stripe's webhooks in sub-packages, re-exported.
__all__ = [
    "AUTHORIZE_DAYS_BEFORE_DELIVERY",
    "BACKOFF_BASE_SECONDS",
    "BACKOFF_MAX_SECONDS",
    "CLAIM_LEASE",
    "REFUSED_RELEASE_RETRY",
    "WEBHOOK_TOLERANCE_SECONDS",
    "CardPaymentRun",
    "CopaymentDue",
    "PaymentChoice",
    "WebhookReceipt",
    "backoff",
    "card_payments_of_citizen",
    "choose_payment_method",
    "copayment_key",
    "get_gateway",
    "payment_choice",
    "process_card_payments",
    "receive_stripe_event",
    "record_order_outcome",
    "record_order_placed",
]

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


# --- the order's outcome (called inside the order's transaction) ----------------------


class CopaymentDue(StrEnum):
    OWED = "owed"  # delivered, or cancelled after the cut-off
    NOT_OWED = "not_owed"  # rejected, expired, cancelled in time, the provider's failure
    CITIZEN_ABSENT = "citizen_absent"  # the municipality's setting decides


class _Unread:
    """The caller has not read the citizen's payment method."""


_UNREAD = _Unread()


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
    method: CopaymentMethod | None | _Unread = _UNREAD,
) -> CardPayment | None:
    """A citizen who pays by card gets a payment to authorise; nothing is sent
    now (the worker does it after the order's transaction has committed, and
    not before the hold would last until the delivery day). ``method``: the
    citizen's choice as the caller has read it in this transaction (None: no
    choice, so invoice), so it is not read again."""
    if isinstance(method, _Unread):
        choice = await repository.get_method(session, citizen_id)
        method = None if choice is None else choice.method
    if method != CopaymentMethod.CARD or amount_ore <= 0:
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
                if await record_move(
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
            if await record_move(
                session, payment, to=to, values=values, data={"reference": reference}
            ):
                setattr(run, to.value, getattr(run, to.value) + 1)
            return to == S.AUTHORIZED
        if isinstance(error, PaymentRefused) and claim.operation != "release":
            values = {"updated_at": now, "last_error": str(error)}
            if error.reference and payment.gateway_reference is None:
                values["gateway_reference"] = error.reference
            if await record_move(
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
