"""API shapes for a citizen's way of paying the co-payment."""

from typing import Literal

from pydantic import BaseModel, Field


class PaymentMethodIn(BaseModel):
    method: Literal["invoice", "card"]
    # A Stripe PaymentMethod made by Stripe.js or the service desk's terminal
    # (not needed with the offline gateway, which uses a demo card).
    payment_method_id: str | None = Field(default=None, max_length=100)


class CardPaymentOut(BaseModel):
    order_id: int
    amount_ore: int
    status: str
    idempotency_key: str


class PaymentMethodOut(BaseModel):
    citizen_id: int
    method: str
    card_label: str | None
    card_payments: list[CardPaymentOut]
