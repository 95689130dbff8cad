"""How a citizen pays a co-payment: the monthly statement or a card."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.auth.permissions import Actor
from market.config import Settings
from market.db import utcnow
from market.payments import repository
from market.payments.exceptions import (
    CardNeeded,
    CardNotAccepted,
    PaymentGatewayDown,
)
from market.payments.gateway import (
    GatewayUnavailable,
    PaymentGateway,
    PaymentRefused,
)
from market.payments.models import (
    CardPayment,
    CopaymentMethod,
)

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
