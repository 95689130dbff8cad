"""How citizens pay their co-payment, card payments for single orders, and the
Stripe events we have received.

Payments uses only the shell: orders and citizens are referenced by id (with
foreign keys), never imported."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Text
from sqlmodel import Field, SQLModel

from market.db import UTCDateTime, enum_type, utcnow
from market.lifecycle import terminal_statuses


class CopaymentMethod(StrEnum):
    INVOICE = "invoice"  # the monthly co-payment statement (the default, no card needed)
    CARD = "card"  # authorised when ordering, captured on delivery


class CitizenPaymentMethod(SQLModel, table=True):
    """A citizen's choice of how to pay the co-payment. No row means invoice."""

    __tablename__ = "citizen_payment_method"

    citizen_id: int = Field(foreign_key="citizen.id", primary_key=True)
    method: CopaymentMethod = Field(
        default=CopaymentMethod.INVOICE, sa_type=enum_type(CopaymentMethod)
    )
    gateway_customer_id: str | None = Field(default=None, max_length=100)
    gateway_payment_method_id: str | None = Field(default=None, max_length=100)
    card_label: str | None = Field(default=None, max_length=60, description="e.g. Visa •••• 4242")
    updated_by_user_id: int = Field(foreign_key="app_user.id")
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CardPaymentStatus(StrEnum):
    """What is true at the gateway. Where the payment should end up is ``wanted``;
    the worker brings ``status`` there, one gateway call at a time."""

    AUTHORIZING = "authorizing"  # recorded when the order was placed, not yet authorised
    AUTHORIZED = "authorized"  # the amount is held on the card
    CAPTURED = "captured"  # the co-payment is paid
    RELEASED = "released"  # the hold is lifted (or there never was one): nothing paid
    DECLINED = "declined"  # the card was refused: the co-payment goes on the statement


# The one table of moves. A webhook or a worker result that is not in it (a
# late or replayed event) changes nothing: a payment never moves backwards.
CARD_PAYMENT_TRANSITIONS: dict[CardPaymentStatus, frozenset[CardPaymentStatus]] = {
    CardPaymentStatus.AUTHORIZING: frozenset(
        {
            CardPaymentStatus.AUTHORIZED,
            CardPaymentStatus.CAPTURED,
            CardPaymentStatus.DECLINED,
            CardPaymentStatus.RELEASED,
        }
    ),
    CardPaymentStatus.AUTHORIZED: frozenset(
        {CardPaymentStatus.CAPTURED, CardPaymentStatus.RELEASED, CardPaymentStatus.DECLINED}
    ),
    CardPaymentStatus.CAPTURED: frozenset(),
    CardPaymentStatus.RELEASED: frozenset(),
    CardPaymentStatus.DECLINED: frozenset(),
}

# Where no move leads on: captured, released, declined.
FINAL_CARD_PAYMENT_STATUSES = terminal_statuses(CARD_PAYMENT_TRANSITIONS)


class CardPayment(SQLModel, table=True):
    """The card payment of one order's co-payment. ``idempotency_key`` is
    ``copay:<order>``; each call to the gateway carries a key derived from it
    (``copay:<order>:authorize``, ``…:capture``, ``…:release``), so a retry
    never charges twice. ``wanted`` is set by the order's outcome (authorised
    when placed, captured when delivered or cancelled late, released when
    rejected, expired or cancelled in time)."""

    __tablename__ = "card_payment"
    __table_args__ = (CheckConstraint("amount_ore >= 0", name="ck_card_payment_amount"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="service_order.id", unique=True)
    citizen_id: int = Field(foreign_key="citizen.id", index=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    amount_ore: int
    status: CardPaymentStatus = Field(
        default=CardPaymentStatus.AUTHORIZING, sa_type=enum_type(CardPaymentStatus), index=True
    )
    wanted: CardPaymentStatus = Field(
        default=CardPaymentStatus.AUTHORIZED, sa_type=enum_type(CardPaymentStatus)
    )
    gateway_reference: str | None = Field(default=None, max_length=100, index=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class GatewayEvent(SQLModel, table=True):
    """A webhook event from the payment gateway, stored once by its id, so a
    replayed event changes nothing."""

    __tablename__ = "gateway_event"

    id: str = Field(primary_key=True, max_length=100)
    type: str = Field(max_length=100)
    created_at_gateway: datetime | None = Field(default=None, sa_type=UTCDateTime)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: str = Field(default="", sa_type=Text)
    payload_json: str = Field(sa_type=Text)
