"""Moving a card payment along its lifecycle: the one write both the worker
and Stripe's webhooks make, with its audit event."""

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.lifecycle import may_become
from market.payments import repository
from market.payments.models import (
    CARD_PAYMENT_TRANSITIONS,
    CardPayment,
    CardPaymentStatus,
)


async def record_move(
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
    if not may_become(CARD_PAYMENT_TRANSITIONS, before, to):
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
