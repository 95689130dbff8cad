"""Placing an order (once per idempotency key), repeating it on more days,
cancelling it and rating the meal. Voucher units move only through
vouchers.service (reserve, release, redeem); capacity through one conditional
UPDATE per scope."""

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from market import idempotency
from market.audit import service as audit
from market.auth.permissions import Actor
from market.clock import local_instant
from market.db import utcnow
from market.errors import N_, InvalidInput
from market.orders import repository as orders_repository
from market.orders.catalogue.service import fits
from market.orders.exceptions import (
    AlreadyRated,
    CapacityFull,
    IdempotencyKeyReused,
    OfferNotFound,
    OutsideServiceArea,
    PastCutoff,
    PausedThatDay,
    ProviderNotApproved,
)
from market.orders.models import Order, OrderStatus, Rating
from market.orders.moves.service import (
    cancel,
    cutoff_for,
    event_values,
    format_local,
    notify_provider,
    order_for_citizen_side,
    today_of,
)
from market.orders.placement import repository
from market.orders.placement.repository import OrderingRead
from market.payments import service as payments
from providers import service as providers
from providers.offers.service import Offering
from vouchers import service as vouchers
from vouchers.exceptions import NoGrantForDate
from vouchers.models import Citizen, VoucherGrant

# The one rule for a client's Idempotency-Key lives in market.idempotency.
IDEMPOTENCY_KEY_MAX_CHARS = idempotency.CLIENT_KEY_MAX_CHARS

# Every order is for one meal.
UNITS = 1


client_key = idempotency.client_key


def scoped_key(actor: Actor, key: str) -> str:
    """The stored key of a client's key: the caller's own (another caller's
    key is no business of this one) and of a fixed length, so every key and
    reference derived from it (ledger, order_ref) fits its column."""
    digest = hashlib.sha256(f"{actor.user_id}\n{key}".encode()).hexdigest()
    return f"client:{digest}"


async def place_order(
    session: AsyncSession,
    *,
    actor: Actor,
    citizen_id: int | None,
    offer_id: int,
    delivery_on: date,
    idempotency_key: str,
    now: datetime | None = None,
) -> Order:
    """Places one order and reserves its voucher units and capacity in the same
    transaction. The same caller's key again returns the first order and
    reserves nothing twice; the same key with another order is refused."""
    return await place_under_key(
        session,
        actor=actor,
        citizen_id=citizen_id,
        offer_id=offer_id,
        delivery_on=delivery_on,
        key=scoped_key(actor, client_key(idempotency_key)),
        now=now,
    )


@dataclass(frozen=True)
class _Placing:
    """One order being placed: what was asked, and what it was checked against."""

    citizen: Citizen
    acting: Actor
    offering: Offering
    grant: VoucherGrant
    delivery_on: date
    cutoff: datetime
    key: str
    now: datetime
    read: OrderingRead


async def place_under_key(
    session: AsyncSession,
    *,
    actor: Actor,
    citizen_id: int | None,
    offer_id: int,
    delivery_on: date,
    key: str,
    now: datetime | None = None,
    standing_order_id: int | None = None,
) -> Order:
    """place_order under a stored key (a client's scoped key, or one the
    system derives, like a standing order's per day)."""
    order, _ = await _place_once(
        session,
        actor=actor,
        citizen_id=citizen_id,
        offer_id=offer_id,
        delivery_on=delivery_on,
        key=key,
        now=now,
        standing_order_id=standing_order_id,
    )
    return order


def _reserve_key(key: str) -> str:
    return f"order:{key}:reserve"


async def _place_once(
    session: AsyncSession,
    *,
    actor: Actor,
    citizen_id: int | None,
    offer_id: int,
    delivery_on: date,
    key: str,
    now: datetime | None,
    standing_order_id: int | None,
) -> tuple[Order, bool]:
    """The order under ``key``, and whether this call placed it."""
    now = now or utcnow()
    # Requests racing with one key wait here for each other, so the later ones
    # find the first order instead of failing on the unique key. The read
    # below is a later statement, so it sees the first order once it committed.
    await orders_repository.lock_idempotency_key(session, key)
    read = await repository.read_for_ordering(
        session,
        actor=actor,
        citizen_id=citizen_id,
        delivery_on=delivery_on,
        order_key=key,
        reserve_key=_reserve_key(key),
    )
    citizen, acting = vouchers.citizen_for_ordering_read(
        actor, citizen_id=citizen_id, citizen=read.citizen, proxy_linked=read.proxy_linked
    )
    if read.existing_order_id is not None:
        existing = await orders_repository.get_order(session, read.existing_order_id)
        assert existing is not None
        return _same_request(existing, citizen, offer_id, delivery_on), False
    offering, grant, cutoff = await _check_orderable(
        session, citizen, read, offer_id, delivery_on, now
    )
    placing = _Placing(citizen, acting, offering, grant, delivery_on, cutoff, key, now, read)
    await _take_capacity(session, placing)
    await _reserve_units(session, placing)
    order = await _insert_order(session, placing, standing_order_id)
    await _after_placing(session, placing, order)
    return order, True


def _same_request(existing: Order, citizen: Citizen, offer_id: int, delivery_on: date) -> Order:
    """As Stripe does: a key stands for one request; another one under it is a
    mistake to report, not to answer with the first order."""
    if (existing.citizen_id, existing.offer_id, existing.delivery_on) != (
        citizen.id,
        offer_id,
        delivery_on,
    ):
        raise IdempotencyKeyReused()
    return existing


async def _check_orderable(
    session: AsyncSession,
    citizen: Citizen,
    read: OrderingRead,
    offer_id: int,
    delivery_on: date,
    now: datetime,
) -> tuple[Offering, VoucherGrant, datetime]:
    """The offering, the citizen's grant and the cut-off, or the first reason
    the citizen may not have this meal that day."""
    assert citizen.id is not None
    offering = await providers.offering(
        session, offer_id=offer_id, municipality_id=citizen.municipality_id, on=delivery_on
    )
    if offering is None:
        raise OfferNotFound()
    if not providers.is_active(offering.approval, delivery_on):
        raise ProviderNotApproved(delivery_on)
    if citizen.postal_code not in offering.postal_codes:
        raise OutsideServiceArea(citizen.postal_code)
    cutoff = cutoff_for(offering.profile, delivery_on)
    if cutoff <= now:
        raise PastCutoff(delivery_on, format_local(cutoff))
    grant = read.grant
    if grant is None:
        raise NoGrantForDate(delivery_on)
    fits(offering.offer, citizen, grant, delivery_on)
    if read.paused:
        raise PausedThatDay(delivery_on)
    return offering, grant, cutoff


async def _take_capacity(session: AsyncSession, placing: _Placing) -> None:
    """The provider's daily capacity, then the offer's own (when it has one)."""
    approval, offer = placing.offering.approval, placing.offering.offer
    assert approval.id is not None and offer.id is not None
    if not await orders_repository.take_capacity(
        session,
        scope=f"approval:{approval.id}",
        day=placing.delivery_on,
        capacity=approval.daily_capacity,
        units=UNITS,
    ):
        raise CapacityFull(placing.delivery_on)
    if offer.daily_capacity is not None and not await orders_repository.take_capacity(
        session,
        scope=f"offer:{offer.id}",
        day=placing.delivery_on,
        capacity=offer.daily_capacity,
        units=UNITS,
    ):
        raise CapacityFull(placing.delivery_on)


async def _reserve_units(session: AsyncSession, placing: _Placing) -> None:
    # The grant was read with its row locked, with what the ledger needs to
    # know, in the one read: the ledger reads neither again.
    await vouchers.reserve(
        session,
        grant_locked=placing.grant,
        known=placing.read.ledger,
        delivery_on=placing.delivery_on,
        units=UNITS,
        idempotency_key=_reserve_key(placing.key),
        actor=placing.acting,
        order_ref=f"order-key:{placing.key}",
        today=today_of(placing.now),
    )


async def _insert_order(
    session: AsyncSession, placing: _Placing, standing_order_id: int | None
) -> Order:
    """The order row and its first event(s): placed, and accepted at once when
    the provider accepts automatically."""
    profile, citizen, day = placing.offering.profile, placing.citizen, placing.delivery_on
    window_start = local_instant(day, profile.window_start)
    accept_by = min(placing.now + timedelta(hours=profile.accept_within_hours), window_start)
    status = OrderStatus.ACCEPTED if profile.auto_accept else OrderStatus.PLACED
    events = [event_values(None, OrderStatus.PLACED, placing.acting)]
    if status == OrderStatus.ACCEPTED:
        events.append(
            event_values(
                OrderStatus.PLACED,
                OrderStatus.ACCEPTED,
                None,
                "accepted automatically within capacity",
            )
        )
    return await repository.insert_order_with_events(
        session,
        {
            "municipality_id": citizen.municipality_id,
            "citizen_id": citizen.id,
            "grant_id": placing.grant.id,
            "provider_id": placing.offering.provider.id,
            "approval_id": placing.offering.approval.id,
            "offer_id": placing.offering.offer.id,
            "delivery_on": day,
            "units": UNITS,
            "unit_price_ore": placing.offering.unit_price_ore,
            "copayment_ore": placing.grant.copayment_ore,
            "status": status,
            "cutoff_at": placing.cutoff,
            "accept_by_at": accept_by,
            "window_end_at": local_instant(day, profile.window_end),
            "idempotency_key": placing.key,
            "standing_order_id": standing_order_id,
            "placed_by_user_id": placing.acting.user_id,
            "on_behalf_of_user_id": placing.acting.on_behalf_of_user_id,
            "placed_at": placing.now,
        },
        events,
    )


async def _after_placing(session: AsyncSession, placing: _Placing, order: Order) -> None:
    """The co-payment, the provider's webhook and the audit row."""
    citizen, grant = placing.citizen, placing.grant
    assert order.id is not None and citizen.id is not None
    await payments.record_order_placed(
        session,
        order_id=order.id,
        citizen_id=citizen.id,
        municipality_id=citizen.municipality_id,
        amount_ore=grant.copayment_ore * UNITS,
        delivery_on=placing.delivery_on,
        now=placing.now,
        method=placing.read.payment_method,
    )
    await notify_provider(
        session, profile=placing.offering.profile, order=order, event="order.placed"
    )
    await audit.record(
        session,
        actor=placing.acting,
        action="order.placed",
        entity_type="order",
        entity_id=order.id,
        municipality_id=citizen.municipality_id,
        data={
            "citizen_id": citizen.id,
            "offer_id": order.offer_id,
            "delivery_on": placing.delivery_on,
            "status": order.status,
            "unit_price_ore": placing.offering.unit_price_ore,
            "copayment_ore": grant.copayment_ore,
        },
    )


async def place_order_once(
    session: AsyncSession,
    *,
    actor: Actor,
    citizen_id: int | None,
    offer_id: int,
    delivery_on: date,
    idempotency_key: str,
    now: datetime | None = None,
) -> tuple[Order, bool]:
    """place_order, also saying whether this call placed it (False: the key was
    used before and the first order is returned, nothing reserved twice). Requests
    racing with one key wait for each other, so the later ones find the first."""
    return await _place_once(
        session,
        actor=actor,
        citizen_id=citizen_id,
        offer_id=offer_id,
        delivery_on=delivery_on,
        key=scoped_key(actor, client_key(idempotency_key)),
        now=now,
        standing_order_id=None,
    )


async def repeat_order(
    session: AsyncSession,
    *,
    actor: Actor,
    order_id: int,
    days: list[date],
    idempotency_key: str,
    now: datetime | None = None,
) -> list[Order]:
    """The same meal for the same citizen on several more days: all or nothing,
    one key per day derived from the form's key, so a second tap orders nothing."""
    if not days:
        raise InvalidInput(N_("Choose at least one day."))
    key = client_key(idempotency_key)
    order, _ = await order_for_citizen_side(session, actor, order_id)
    await orders_repository.lock_idempotency_key(session, scoped_key(actor, key))
    return [
        await place_under_key(
            session,
            actor=actor,
            citizen_id=order.citizen_id,
            offer_id=order.offer_id,
            delivery_on=day,
            key=scoped_key(actor, f"{key}:{day.isoformat()}"),
            now=now,
        )
        for day in sorted(set(days))
    ]


async def cancel_order(
    session: AsyncSession, *, actor: Actor, order_id: int, now: datetime | None = None
) -> Order:
    """Before the cut-off the units come back; after it the cancellation is late:
    the meal was cooked, so the unit is used and the co-payment is owed."""
    now = now or utcnow()
    order, acting = await order_for_citizen_side(session, actor, order_id)
    if now < order.cutoff_at:
        return await cancel(session, order, acting, late=False)
    return await cancel(session, order, acting, late=True, note="cancelled after the cut-off")


async def rate_order(
    session: AsyncSession, *, actor: Actor, order_id: int, stars: int, comment: str = ""
) -> Rating:
    if not 1 <= stars <= 5:
        raise InvalidInput(N_("Give between 1 and 5 stars."))
    order, acting = await order_for_citizen_side(session, actor, order_id)
    if order.status != OrderStatus.DELIVERED:
        raise InvalidInput(N_("Only a delivered meal can be rated."))
    if await orders_repository.rating_of(session, order_id) is not None:
        raise AlreadyRated()
    rating = await orders_repository.add_rating(
        session,
        Rating(
            order_id=order_id,
            provider_id=order.provider_id,
            stars=stars,
            comment=comment.strip()[:2000],
        ),
    )
    await audit.record(
        session,
        actor=acting,
        action="order.rated",
        entity_type="order",
        entity_id=order_id,
        municipality_id=order.municipality_id,
        data={"stars": stars},
    )
    return rating
