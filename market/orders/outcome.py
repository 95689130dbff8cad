"""How an order ended: the one classification (DESIGN.md's outcome table),
in Python and in its SQL form. Settlement pays by it, supervision scores by
it and the dashboard reports it, so all of them read it from here.

    outcome          status            and
    on_time          delivered         delivered_at set and <= window_end_at
    late             delivered         delivered_at later (or not recorded)
    provider_fault   failed            reason not delivered, too late or wrong meal
    citizen_absent   failed            reason citizen absent
    late_cancelled   late_cancelled
    unfinished       placed, accepted or out for delivery
    other            anything else (rejected, expired, cancelled in time, ...)

Billable (paid in full or as a share): on time, late, citizen absent, late
cancelled. Counted in the on-time rate (attempts): on time, late and the
provider's faults.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import and_, case, or_
from sqlalchemy.sql import ColumnElement
from sqlmodel import col

from market.orders.models import FailureReason, Order, OrderStatus


class Outcome(StrEnum):
    ON_TIME = "on_time"
    LATE = "late"
    PROVIDER_FAULT = "provider_fault"
    CITIZEN_ABSENT = "citizen_absent"
    LATE_CANCELLED = "late_cancelled"
    UNFINISHED = "unfinished"
    OTHER = "other"


PROVIDER_FAULTS: frozenset[FailureReason] = frozenset(
    {FailureReason.NOT_DELIVERED, FailureReason.TOO_LATE, FailureReason.WRONG_MEAL}
)
UNFINISHED_STATUSES: frozenset[OrderStatus] = frozenset(
    {OrderStatus.PLACED, OrderStatus.ACCEPTED, OrderStatus.OUT_FOR_DELIVERY}
)

DELIVERED: frozenset[Outcome] = frozenset({Outcome.ON_TIME, Outcome.LATE})
BILLABLE: frozenset[Outcome] = DELIVERED | {Outcome.CITIZEN_ABSENT, Outcome.LATE_CANCELLED}
ON_TIME_ATTEMPTS: frozenset[Outcome] = DELIVERED | {Outcome.PROVIDER_FAULT}


def is_provider_fault(reason: FailureReason | None) -> bool:
    return reason in PROVIDER_FAULTS


def classify(
    status: OrderStatus,
    failure_reason: FailureReason | None,
    delivered_at: datetime | None,
    window_end_at: datetime,
) -> Outcome:
    """The outcome of an order with these fields."""
    if status == OrderStatus.DELIVERED:
        on_time = delivered_at is not None and delivered_at <= window_end_at
        return Outcome.ON_TIME if on_time else Outcome.LATE
    if status == OrderStatus.FAILED:
        if failure_reason == FailureReason.CITIZEN_ABSENT:
            return Outcome.CITIZEN_ABSENT
        return Outcome.PROVIDER_FAULT if is_provider_fault(failure_reason) else Outcome.OTHER
    if status == OrderStatus.LATE_CANCELLED:
        return Outcome.LATE_CANCELLED
    if status in UNFINISHED_STATUSES:
        return Outcome.UNFINISHED
    return Outcome.OTHER


def outcome_of(order: Order) -> Outcome:
    return classify(order.status, order.failure_reason, order.delivered_at, order.window_end_at)


# --- the same, as SQL conditions over service_order -----------------------------------

_STATUS = col(Order.status)
_REASON = col(Order.failure_reason)
_DELIVERED_AT = col(Order.delivered_at)
_WINDOW_END_AT = col(Order.window_end_at)

IS_DELIVERED: ColumnElement[bool] = _STATUS == OrderStatus.DELIVERED
_ARRIVED_IN_TIME = and_(_DELIVERED_AT.is_not(None), _DELIVERED_AT <= _WINDOW_END_AT)
_FAILED = _STATUS == OrderStatus.FAILED

# One condition per outcome; exactly one holds for every order.
CONDITIONS: dict[Outcome, ColumnElement[bool]] = {
    Outcome.ON_TIME: and_(IS_DELIVERED, _ARRIVED_IN_TIME),
    Outcome.LATE: and_(IS_DELIVERED, or_(_DELIVERED_AT.is_(None), _DELIVERED_AT > _WINDOW_END_AT)),
    Outcome.PROVIDER_FAULT: and_(_FAILED, _REASON.in_(sorted(PROVIDER_FAULTS))),
    Outcome.CITIZEN_ABSENT: and_(_FAILED, _REASON == FailureReason.CITIZEN_ABSENT),
    Outcome.LATE_CANCELLED: _STATUS == OrderStatus.LATE_CANCELLED,
    Outcome.UNFINISHED: _STATUS.in_(sorted(UNFINISHED_STATUSES)),
}

# The outcome's name ("on_time", ...) of each order, as one SQL expression.
OUTCOME_SQL: ColumnElement[str] = case(
    *((CONDITIONS[o], o.value) for o in Outcome if o != Outcome.OTHER),
    else_=Outcome.OTHER.value,
)


def sql_is(*outcomes: Outcome | frozenset[Outcome]) -> ColumnElement[bool]:
    """The SQL condition "the order ended in one of ``outcomes``"."""
    wanted: set[Outcome] = set()
    for item in outcomes:
        wanted |= {item} if isinstance(item, Outcome) else set(item)
    if Outcome.OTHER in wanted:  # no condition of its own: whatever none of the others is
        return OUTCOME_SQL.in_(sorted(o.value for o in wanted))
    return or_(*(CONDITIONS[o] for o in Outcome if o in wanted))


IS_ON_TIME = sql_is(Outcome.ON_TIME)
IS_LATE = sql_is(Outcome.LATE)
IS_PROVIDER_FAULT = sql_is(Outcome.PROVIDER_FAULT)
IS_ABSENT = sql_is(Outcome.CITIZEN_ABSENT)
IS_LATE_CANCELLED = sql_is(Outcome.LATE_CANCELLED)
IS_UNFINISHED = sql_is(Outcome.UNFINISHED)
IS_BILLABLE = sql_is(BILLABLE)
IS_ON_TIME_ATTEMPT = sql_is(ON_TIME_ATTEMPTS)
