"""Queries of placing an order: everything the order needs to know before it
is written, read in one statement."""

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, exists, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, aliased
from sqlmodel import col

from market.auth.permissions import Actor
from market.orders.models import CitizenPause, Order
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


def _paused_on(citizen_id: ColumnElement[Any] | Mapped[Any], day: date) -> ColumnElement[bool]:
    """``CitizenPause.covers(day)`` in SQL."""
    return exists().where(
        col(CitizenPause.citizen_id) == citizen_id,
        col(CitizenPause.starts_on) <= day,
        (col(CitizenPause.resumes_on).is_(None)) | (col(CitizenPause.resumes_on) > day),
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
    wants), their grant for the day, whether a proxy actor is linked to them,
    whether they are paused that day, how they pay the co-payment, the order
    already placed under ``order_key`` and what the ledger needs to reserve under
    ``reserve_key`` (``vouchers.reservation_lookups``).

    On PostgreSQL the grant comes from a LATERAL subquery with FOR UPDATE: its
    row is locked here (so the ledger need not read it again), and the other
    parts see everything committed before this statement, i.e. before any wait
    for the lock; the ledger's own writes stay conditional, so a part read
    before that wait is never trusted for a refusal. Called after the order key's
    advisory lock, so an order placed under the key is seen. SQLite has no
    LATERAL (and needs no row lock: BEGIN IMMEDIATE serialises writers): there
    the grant is joined on its id."""
    postgres = session.get_bind().dialect.name == "postgresql"
    active = vouchers.active_grant_select(col(Citizen.id), delivery_on)
    if postgres:
        locked = active.with_for_update().lateral("active_grant")
        grant = aliased(VoucherGrant, locked)
        on: ColumnElement[bool] = true()
        joined = locked
    else:
        grant = aliased(VoucherGrant, name="active_grant")
        latest = active.with_only_columns(col(VoucherGrant.id)).scalar_subquery()
        on = col(grant.id) == latest
        joined = grant  # type: ignore[assignment]
    ledger = vouchers.reservation_lookups(
        col(grant.id), delivery_on=delivery_on, idempotency_key=reserve_key
    )
    method = (
        select(col(CitizenPaymentMethod.method))
        .where(col(CitizenPaymentMethod.citizen_id) == col(Citizen.id))
        .scalar_subquery()
    )
    existing = select(col(Order.id)).where(col(Order.idempotency_key) == order_key)
    statement = (
        select(
            Citizen,
            grant,
            vouchers.proxy_link_now(actor, col(Citizen.id)).label("proxy_linked"),
            _paused_on(col(Citizen.id), delivery_on).label("paused"),
            method.label("payment_method"),
            existing.scalar_subquery().label("existing_order_id"),
            *(subquery.label(name) for name, subquery in ledger.items()),
        )
        .outerjoin(joined, on)
        .where(vouchers.ordering_citizen_filter(actor, citizen_id=citizen_id))
        .execution_options(populate_existing=True)
    )
    row = (await session.execute(statement)).first()
    if row is None:
        found = await session.execute(existing)
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
        else vouchers.LedgerLookups(**{name: row._mapping[name] for name in ledger}),
    )
