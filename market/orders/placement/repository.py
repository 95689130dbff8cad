"""Queries of placing an order: everything the order needs to know before it
is written, read in one statement."""

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    String,
    bindparam,
    exists,
    insert,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, aliased
from sqlmodel import col

from market.auth.permissions import Actor
from market.db import table_of
from market.orders.models import CitizenPause, Order, OrderEvent
from market.payments.models import CitizenPaymentMethod, CopaymentMethod
from vouchers import service as vouchers
from vouchers.models import Citizen, VoucherGrant


@dataclass(frozen=True)
class OrderingRead:
    """What one read found: the citizen (None: no such citizen for this actor),
    their active grant that day (its row locked on PostgreSQL until the
    transaction ends), and around them what the order's rules need."""

    citizen: Citizen | None
    grant: VoucherGrant | None
    proxy_linked: bool
    paused: bool
    payment_method: CopaymentMethod | None
    existing_order_id: int | None
    ledger: vouchers.LedgerLookups | None


def _paused_on(citizen_id: ColumnElement[Any] | Mapped[Any], day: Any) -> ColumnElement[bool]:
    """``CitizenPause.covers(day)`` in SQL."""
    return exists().where(
        col(CitizenPause.citizen_id) == citizen_id,
        col(CitizenPause.starts_on) <= day,
        (col(CitizenPause.resumes_on).is_(None)) | (col(CitizenPause.resumes_on) > day),
    )


_LEDGER_FIELDS = tuple(field.name for field in fields(vouchers.LedgerLookups))


@cache
def _ordering_read(postgres: bool, named: bool, proxy: bool) -> Select[Any]:
    """The one read's statement for one shape (dialect, how the citizen is
    found, whether a proxy's link is asked): built once, executed with bound
    parameters, so each order pays neither for building it nor for the column
    collections of its LATERAL subquery.

    On PostgreSQL the grant comes from a LATERAL subquery with FOR UPDATE: its
    row is locked here (so the ledger need not read it again), and the other
    parts see everything committed before this statement, i.e. before any wait
    for the lock; the ledger's own writes stay conditional, so a part read
    before that wait is never trusted for a refusal. SQLite has no LATERAL (and
    needs no row lock: BEGIN IMMEDIATE serialises writers): there the grant is
    joined on its id."""
    day = bindparam("delivery_on", type_=Date)
    active = vouchers.active_grant_select(col(Citizen.id), day)
    joined: Any
    if postgres:
        joined = active.with_for_update().lateral("active_grant")
        grant = aliased(VoucherGrant, joined)
        on: ColumnElement[bool] = true()
    else:
        grant = joined = aliased(VoucherGrant, name="active_grant")
        on = col(grant.id) == active.with_only_columns(col(VoucherGrant.id)).scalar_subquery()
    ledger = vouchers.reservation_lookups(col(grant.id))
    assert tuple(ledger) == _LEDGER_FIELDS
    method = (
        select(col(CitizenPaymentMethod.method))
        .where(col(CitizenPaymentMethod.citizen_id) == col(Citizen.id))
        .scalar_subquery()
    )
    existing = select(col(Order.id)).where(
        col(Order.idempotency_key) == bindparam("order_key", type_=String)
    )
    return (
        select(
            Citizen,
            grant,
            vouchers.proxy_link_now(col(Citizen.id), proxy=proxy).label("proxy_linked"),
            _paused_on(col(Citizen.id), day).label("paused"),
            method.label("payment_method"),
            existing.scalar_subquery().label("existing_order_id"),
            *(subquery.label(name) for name, subquery in ledger.items()),
        )
        .outerjoin(joined, on)
        .where(vouchers.ordering_citizen_filter(named=named))
        .execution_options(populate_existing=True)
    )


@cache
def _order_under_key() -> Select[Any]:
    return select(col(Order.id)).where(
        col(Order.idempotency_key) == bindparam("order_key", type_=String)
    )


async def read_for_ordering(
    session: AsyncSession,
    *,
    actor: Actor,
    citizen_id: int | None,
    delivery_on: date,
    order_key: str,
    reserve_key: str,
) -> OrderingRead:
    """One statement: the citizen (as ``vouchers.citizen_for_ordering_read``
    wants), their grant for the day (locked on PostgreSQL), whether a proxy
    actor is linked to them, whether they are paused that day, how they pay the
    co-payment, the order already placed under ``order_key`` and what the ledger
    needs to reserve under ``reserve_key`` (``vouchers.reservation_lookups``).
    Called after the order key's advisory lock, so an order placed under the
    key is seen."""
    lookup = vouchers.ordering_lookup(actor, citizen_id=citizen_id)
    statement = _ordering_read(
        session.get_bind().dialect.name == "postgresql", lookup.named, lookup.proxy
    )
    params: dict[str, Any] = {
        "delivery_on": delivery_on,
        "order_key": order_key,
        **lookup.params,
        **vouchers.reservation_lookup_params(delivery_on=delivery_on, idempotency_key=reserve_key),
    }
    row = (await session.execute(statement, params)).first()
    if row is None:
        found = await session.execute(_order_under_key(), {"order_key": order_key})
        return OrderingRead(None, None, False, False, None, found.scalar_one_or_none(), None)
    found_grant: VoucherGrant | None = row[1]
    return OrderingRead(
        citizen=row[0],
        grant=found_grant,
        proxy_linked=bool(row.proxy_linked),
        paused=bool(row.paused),
        payment_method=None if row.payment_method is None else CopaymentMethod(row.payment_method),
        existing_order_id=row.existing_order_id,
        ledger=None
        if found_grant is None
        else vouchers.LedgerLookups(*(row._mapping[name] for name in _LEDGER_FIELDS)),
    )


ORDER = table_of(Order)
EVENT = table_of(OrderEvent)


@cache
def _insert_order(postgres: bool, columns: tuple[str, ...], events: tuple[str, ...], n: int) -> Any:
    """The statement writing a new order (``columns``) and its ``n`` first events
    (``events``, but for the order's id), built once per shape with bound
    parameters ``o_<column>`` and ``e<i>_<column>``. PostgreSQL: one statement,
    the order's INSERT a data-modifying CTE the events' INSERT reads its id from,
    the order coming back as written. SQLite (no such CTEs): the order's INSERT
    … RETURNING; the events follow in one multi-row INSERT."""
    order = insert(Order).values({c: bindparam(f"o_{c}", type_=ORDER.c[c].type) for c in columns})
    if not postgres:
        return order.returning(Order)
    placed = order.returning(*ORDER.c).cte("placed")
    rows = [
        select(placed.c.id, *(bindparam(f"e{i}_{c}", type_=EVENT.c[c].type) for c in events))
        for i in range(n)
    ]
    source = rows[0] if n == 1 else union_all(*rows)
    added = insert(OrderEvent).from_select(["order_id", *events], source).cte("placed_events")
    return select(Order).from_statement(select(placed).add_cte(added))


async def insert_order_with_events(
    session: AsyncSession, values: dict[str, Any], events: Sequence[dict[str, Any]]
) -> Order:
    """The new order as written (nothing reads it back) and its first events
    (``events`` without ``order_id``, at least one, all with the same keys):
    one statement on PostgreSQL, two on SQLite."""
    postgres = session.get_bind().dialect.name == "postgresql"
    columns, event_columns = tuple(values), tuple(events[0])
    params = {f"o_{c}": v for c, v in values.items()}
    for i, event in enumerate(events):
        params.update({f"e{i}_{c}": event[c] for c in event_columns})
    statement = _insert_order(postgres, columns, event_columns, len(events))
    result = await session.execute(statement, params)
    order: Order = result.scalar_one()
    if not postgres:
        await session.execute(
            insert(OrderEvent).values([{"order_id": order.id, **event} for event in events])
        )
    return order
