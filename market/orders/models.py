from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from market.db import UTCDateTime, enum_type, utcnow


class OrderStatus(StrEnum):
    PLACED = "placed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    LATE_CANCELLED = "late_cancelled"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    FAILED = "failed"


# The one table of allowed moves; anything else is a 409 with a sentence.
ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PLACED: frozenset(
        {
            OrderStatus.ACCEPTED,
            OrderStatus.REJECTED,
            OrderStatus.EXPIRED,
            OrderStatus.CANCELLED,
            OrderStatus.LATE_CANCELLED,
        }
    ),
    OrderStatus.ACCEPTED: frozenset(
        {OrderStatus.OUT_FOR_DELIVERY, OrderStatus.CANCELLED, OrderStatus.LATE_CANCELLED}
    ),
    OrderStatus.OUT_FOR_DELIVERY: frozenset({OrderStatus.DELIVERED, OrderStatus.FAILED}),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.LATE_CANCELLED: frozenset(),
    OrderStatus.DELIVERED: frozenset(),
    OrderStatus.FAILED: frozenset(),
}


class FailureReason(StrEnum):
    CITIZEN_ABSENT = "citizen_absent"
    NOT_DELIVERED = "not_delivered"
    TOO_LATE = "too_late"
    WRONG_MEAL = "wrong_meal"


class Order(SQLModel, table=True):
    """One unit of service for one citizen on one day. Prices are copied from
    the contract and the grant when placed, so later changes never rewrite it."""

    __tablename__ = "service_order"
    __table_args__ = (CheckConstraint("units > 0", name="ck_service_order_units_positive"),)

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    citizen_id: int = Field(foreign_key="citizen.id", index=True)
    grant_id: int = Field(foreign_key="voucher_grant.id", index=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    approval_id: int = Field(foreign_key="approval.id")
    offer_id: int = Field(foreign_key="offer.id")
    delivery_on: date = Field(index=True)
    units: int = 1
    unit_price_ore: int
    copayment_ore: int
    status: OrderStatus = Field(
        default=OrderStatus.PLACED, sa_type=enum_type(OrderStatus), index=True
    )
    failure_reason: FailureReason | None = Field(default=None, sa_type=enum_type(FailureReason))
    status_note: str | None = Field(default=None, sa_type=Text)
    cutoff_at: datetime = Field(sa_type=UTCDateTime)
    accept_by_at: datetime = Field(sa_type=UTCDateTime)
    window_end_at: datetime = Field(sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    idempotency_key: str = Field(max_length=200, unique=True)
    standing_order_id: int | None = Field(default=None, foreign_key="standing_order.id")
    # Set when a pause cancelled the order: a standing order may place that day
    # again (under a new key) if the pause is shortened.
    pause_id: int | None = Field(default=None, foreign_key="citizen_pause.id")
    placed_by_user_id: int = Field(foreign_key="app_user.id")
    on_behalf_of_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    placed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OrderEvent(SQLModel, table=True):
    """Every transition of an order: who, for whom, when, from what to what."""

    __tablename__ = "order_event"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="service_order.id", index=True)
    from_status: OrderStatus | None = Field(default=None, sa_type=enum_type(OrderStatus))
    to_status: OrderStatus = Field(sa_type=enum_type(OrderStatus))
    actor_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    on_behalf_of_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    note: str | None = Field(default=None, sa_type=Text)
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CapacityUse(SQLModel, table=True):
    """Units taken of a daily capacity: an approval's (the provider in one
    municipality) or an offer's. Taking is one conditional UPDATE, so concurrent
    orders never exceed it."""

    __tablename__ = "capacity_use"
    __table_args__ = (
        UniqueConstraint("scope", "delivery_on", name="uq_capacity_use_scope_day"),
        CheckConstraint("used >= 0", name="ck_capacity_use_nonnegative"),
        CheckConstraint("used <= capacity", name="ck_capacity_use_within_capacity"),
    )

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=40, description="'approval:<id>' or 'offer:<id>'")
    delivery_on: date
    capacity: int
    used: int = 0


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"


class WelfareAlert(SQLModel, table=True):
    """A citizen did not open the door. Open until a person acknowledges it."""

    __tablename__ = "welfare_alert"

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    citizen_id: int = Field(foreign_key="citizen.id", index=True)
    order_id: int = Field(foreign_key="service_order.id", unique=True)
    status: AlertStatus = Field(
        default=AlertStatus.OPEN, sa_type=enum_type(AlertStatus), index=True
    )
    raised_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    raised_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    provider_note: str | None = Field(default=None, sa_type=Text)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    acknowledgement_note: str | None = Field(default=None, sa_type=Text)


class StandingOrder(SQLModel, table=True):
    """A weekly pattern (e.g. Monday to Friday) that places orders ahead by itself."""

    __tablename__ = "standing_order"

    id: int | None = Field(default=None, primary_key=True)
    citizen_id: int = Field(foreign_key="citizen.id", index=True)
    offer_id: int = Field(foreign_key="offer.id")
    weekdays: str = Field(max_length=13, description="ISO weekdays, e.g. '1,2,3,4,5'")
    active: bool = True
    created_by_user_id: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    placed_through_on: date | None = None
    last_problem: str | None = Field(default=None, sa_type=Text)
    last_problem_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Rating(SQLModel, table=True):
    __tablename__ = "order_rating"
    __table_args__ = (CheckConstraint("stars BETWEEN 1 AND 5", name="ck_order_rating_stars"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="service_order.id", unique=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    stars: int
    comment: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PauseReason(StrEnum):
    HOSPITAL = "hospital"
    HOLIDAY = "holiday"
    FAMILY = "family"
    OTHER = "other"


class CitizenPause(SQLModel, table=True):
    """No meals from starts_on until the day before resumes_on (open-ended when
    resumes_on is empty). Its state follows from the dates and today, so ending
    it early or later is changing resumes_on; nothing has to wake up to end it."""

    __tablename__ = "citizen_pause"
    __table_args__ = (
        CheckConstraint(
            "resumes_on IS NULL OR resumes_on >= starts_on", name="ck_citizen_pause_dates"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    citizen_id: int = Field(foreign_key="citizen.id", index=True)
    reason: PauseReason = Field(sa_type=enum_type(PauseReason))
    starts_on: date
    resumes_on: date | None = None
    created_by_user_id: int = Field(foreign_key="app_user.id")
    on_behalf_of_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    def covers(self, day: date) -> bool:
        return self.starts_on <= day and (self.resumes_on is None or day < self.resumes_on)


class WelfareNote(SQLModel, table=True):
    """Something a driver noticed at the door (confused, yesterday's meal
    untouched, a fall). Not an alarm: it goes to the case worker's queue and
    stays open until a person acknowledges it, as an alert does."""

    __tablename__ = "welfare_note"

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    citizen_id: int = Field(foreign_key="citizen.id", index=True)
    order_id: int | None = Field(default=None, foreign_key="service_order.id")
    observations: str = Field(default="", max_length=200, description="codes, comma-separated")
    text: str = Field(default="", sa_type=Text)
    status: AlertStatus = Field(
        default=AlertStatus.OPEN, sa_type=enum_type(AlertStatus), index=True
    )
    raised_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    raised_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    idempotency_key: str = Field(max_length=200, unique=True)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    acknowledgement_note: str | None = Field(default=None, sa_type=Text)


class DriverTap(SQLModel, table=True):
    """One tap on the driver's page, kept by its key: a tap sent twice (the
    phone lost its connection and tried again) records the outcome once."""

    __tablename__ = "driver_tap"

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    order_id: int = Field(foreign_key="service_order.id", index=True)
    outcome: str = Field(max_length=32)
    user_id: int = Field(foreign_key="app_user.id")
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
