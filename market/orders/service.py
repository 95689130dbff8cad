"""The order flow: catalogue, placing, cancelling, fulfilment, welfare alerts
and ratings. Voucher units move only through vouchers.service (reserve,
release, redeem); capacity through one conditional UPDATE per scope."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.auth.models import Role
from market.auth.permissions import Actor
from market.config import Settings
from market.db import utcnow
from market.errors import N_, InvalidInput, NotFound, PermissionDenied
from market.municipalities import service as municipalities
from market.orders import repository
from market.orders.exceptions import (
    AlertNotFound,
    AlreadyRated,
    CapacityFull,
    ContainsAllergen,
    NotOfferedThatDay,
    OfferNotFound,
    OrderNotFound,
    OrderTransitionRefused,
    OutsideServiceArea,
    PastCutoff,
    ProviderNotApproved,
    WrongDietForm,
)
from market.orders.models import (
    ORDER_TRANSITIONS,
    FailureReason,
    Order,
    OrderStatus,
    Rating,
    WelfareAlert,
)
from market.outbox import service as outbox
from providers import service as providers
from providers.models import Approval, Offer, OrderingProfile, Provider
from vouchers import service as vouchers
from vouchers.exceptions import NoGrantForDate
from vouchers.models import Citizen, VoucherGrant

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
# Statuses in which the order holds voucher units and capacity.
HOLDS_UNITS = frozenset({OrderStatus.PLACED, OrderStatus.ACCEPTED, OrderStatus.OUT_FOR_DELIVERY})


def check_transition(current: OrderStatus, wanted: OrderStatus) -> None:
    if wanted not in ORDER_TRANSITIONS[current]:
        raise OrderTransitionRefused(
            current.value.replace("_", " "), wanted.value.replace("_", " ")
        )


def local_instant(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=COPENHAGEN).astimezone(UTC)


def cutoff_for(profile: OrderingProfile, day: date) -> datetime:
    return local_instant(day - timedelta(days=profile.cutoff_days_before), profile.cutoff_time)


def format_local(instant: datetime) -> str:
    return instant.astimezone(COPENHAGEN).strftime("%Y-%m-%d %H:%M")


# --- the catalogue ---------------------------------------------------------


@dataclass(frozen=True)
class CatalogueEntry:
    offer: Offer
    provider: Provider
    approval: Approval
    unit_price_ore: int
    copayment_ore: int
    cutoff_at: datetime

    @property
    def municipality_pays_ore(self) -> int:
        return self.unit_price_ore - self.copayment_ore


@dataclass(frozen=True)
class Catalogue:
    citizen: Citizen
    grant: VoucherGrant | None
    delivery_on: date
    entries: list[CatalogueEntry]


def _fits(offer: Offer, citizen: Citizen, grant: VoucherGrant, day: date) -> None:
    """Raises the first reason the citizen may not have this offer that day."""
    if not offer.active or not offer.offered_on(day.isoweekday()):
        raise NotOfferedThatDay(day)
    if grant.diet_form.value not in offer.diet_forms:
        raise WrongDietForm(grant.diet_form.value)
    forbidden = sorted(set(offer.allergens) & (set(citizen.allergies) | set(grant.allergies)))
    if forbidden:
        raise ContainsAllergen(", ".join(forbidden))


async def catalogue(
    session: AsyncSession,
    *,
    actor: Actor,
    citizen_id: int | None,
    delivery_on: date,
    now: datetime | None = None,
) -> Catalogue:
    """What this citizen may order for that day: approved and active providers
    delivering to their postal code, offers fitting their diet and allergies,
    whose cut-off has not passed, with the full price split."""
    now = now or utcnow()
    citizen, _ = await vouchers.citizen_for_ordering(session, actor=actor, citizen_id=citizen_id)
    assert citizen.id is not None
    grant = await vouchers.active_grant_on(session, citizen_id=citizen.id, day=delivery_on)
    entries: list[CatalogueEntry] = []
    if grant is None:
        return Catalogue(citizen=citizen, grant=None, delivery_on=delivery_on, entries=[])
    for offering in await providers.offerings_for(
        session,
        municipality_id=citizen.municipality_id,
        postal_code=citizen.postal_code,
        on=delivery_on,
    ):
        cutoff = cutoff_for(offering.profile, delivery_on)
        if cutoff <= now:
            continue
        try:
            _fits(offering.offer, citizen, grant, delivery_on)
        except InvalidInput:
            continue
        entries.append(
            CatalogueEntry(
                offer=offering.offer,
                provider=offering.provider,
                approval=offering.approval,
                unit_price_ore=offering.unit_price_ore,
                copayment_ore=grant.copayment_ore,
                cutoff_at=cutoff,
            )
        )
    entries.sort(key=lambda e: (e.provider.name, e.offer.name))
    return Catalogue(citizen=citizen, grant=grant, delivery_on=delivery_on, entries=entries)


# --- placing ---------------------------------------------------------------


async def _event(
    session: AsyncSession,
    order_id: int,
    before: OrderStatus | None,
    after: OrderStatus,
    actor: Actor | None,
    note: str | None = None,
) -> None:
    await repository.add_event(
        session,
        {
            "order_id": order_id,
            "from_status": before,
            "to_status": after,
            "actor_user_id": actor.user_id if actor else None,
            "on_behalf_of_user_id": actor.on_behalf_of_user_id if actor else None,
            "note": note,
            "occurred_at": utcnow(),
        },
    )


async def _notify_provider(
    session: AsyncSession, *, profile: OrderingProfile, order: Order, event: str
) -> None:
    if profile.webhook_url and profile.webhook_secret:
        await outbox.enqueue_webhook(
            session,
            idempotency_key=f"webhook:{event}:{order.id}",
            url=profile.webhook_url,
            secret=profile.webhook_secret,
            event=event,
            data={
                "order_id": order.id,
                "delivery_on": order.delivery_on.isoformat(),
                "offer_id": order.offer_id,
                "units": order.units,
                "status": order.status.value,
            },
        )


async def place_order(
    session: AsyncSession,
    *,
    actor: Actor,
    citizen_id: int | None,
    offer_id: int,
    delivery_on: date,
    idempotency_key: str,
    now: datetime | None = None,
    standing_order_id: int | None = None,
) -> Order:
    """Places one order and reserves its voucher units and capacity in the same
    transaction. The same key returns the first order and reserves nothing twice."""
    now = now or utcnow()
    key = idempotency_key.strip()
    if not key or len(key) > 200:
        raise InvalidInput(N_("An idempotency key of 1 to 200 characters is required."))
    existing = await repository.get_order_by_key(session, key)
    citizen, acting = await vouchers.citizen_for_ordering(
        session, actor=actor, citizen_id=citizen_id
    )
    assert citizen.id is not None
    if existing is not None:
        if existing.citizen_id != citizen.id:
            raise InvalidInput(N_("That idempotency key was already used for another order."))
        return existing

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
    grant = await vouchers.active_grant_on(session, citizen_id=citizen.id, day=delivery_on)
    if grant is None:
        raise NoGrantForDate(delivery_on)
    _fits(offering.offer, citizen, grant, delivery_on)

    units = 1
    assert offering.approval.id is not None and offering.offer.id is not None
    if not await repository.take_capacity(
        session,
        scope=f"approval:{offering.approval.id}",
        day=delivery_on,
        capacity=offering.approval.daily_capacity,
        units=units,
    ):
        raise CapacityFull(delivery_on)
    if offering.offer.daily_capacity is not None and not await repository.take_capacity(
        session,
        scope=f"offer:{offering.offer.id}",
        day=delivery_on,
        capacity=offering.offer.daily_capacity,
        units=units,
    ):
        raise CapacityFull(delivery_on)
    await vouchers.reserve(
        session,
        grant_id=grant.id,
        delivery_on=delivery_on,
        units=units,
        idempotency_key=f"order:{key}:reserve",
        actor=acting,
        order_ref=f"order-key:{key}",
    )
    window_start = local_instant(delivery_on, offering.profile.window_start)
    accept_by = min(now + timedelta(hours=offering.profile.accept_within_hours), window_start)
    status = OrderStatus.ACCEPTED if offering.profile.auto_accept else OrderStatus.PLACED
    order_id = await repository.insert_order(
        session,
        {
            "municipality_id": citizen.municipality_id,
            "citizen_id": citizen.id,
            "grant_id": grant.id,
            "provider_id": offering.provider.id,
            "approval_id": offering.approval.id,
            "offer_id": offering.offer.id,
            "delivery_on": delivery_on,
            "units": units,
            "unit_price_ore": offering.unit_price_ore,
            "copayment_ore": grant.copayment_ore,
            "status": status,
            "cutoff_at": cutoff,
            "accept_by_at": accept_by,
            "window_end_at": local_instant(delivery_on, offering.profile.window_end),
            "idempotency_key": key,
            "standing_order_id": standing_order_id,
            "placed_by_user_id": acting.user_id,
            "on_behalf_of_user_id": acting.on_behalf_of_user_id,
            "placed_at": now,
        },
    )
    await _event(session, order_id, None, OrderStatus.PLACED, acting)
    if status == OrderStatus.ACCEPTED:
        await _event(
            session,
            order_id,
            OrderStatus.PLACED,
            OrderStatus.ACCEPTED,
            None,
            "accepted automatically within capacity",
        )
    order = await repository.get_order(session, order_id)
    assert order is not None
    await _notify_provider(session, profile=offering.profile, order=order, event="order.placed")
    await audit.record(
        session,
        actor=acting,
        action="order.placed",
        entity_type="order",
        entity_id=order_id,
        municipality_id=citizen.municipality_id,
        data={
            "citizen_id": citizen.id,
            "offer_id": offer_id,
            "delivery_on": delivery_on,
            "status": status,
            "unit_price_ore": offering.unit_price_ore,
            "copayment_ore": grant.copayment_ore,
        },
    )
    return order


# --- moving an order -------------------------------------------------------


async def _move(
    session: AsyncSession,
    order: Order,
    wanted: OrderStatus,
    *,
    actor: Actor | None,
    note: str | None = None,
    values: dict[str, object] | None = None,
) -> Order:
    check_transition(order.status, wanted)
    assert order.id is not None
    if not await repository.move_order(
        session,
        order_id=order.id,
        current=order.status,
        values={"status": wanted, **(values or {})},
    ):
        # Someone else moved it first; report against what it is now.
        fresh = await repository.get_order(session, order.id)
        assert fresh is not None
        check_transition(fresh.status, wanted)
    await _event(session, order.id, order.status, wanted, actor, note)
    before = order.status
    await session.refresh(order)
    await audit.record(
        session,
        actor=actor,
        action=f"order.{wanted.value}",
        entity_type="order",
        entity_id=order.id,
        municipality_id=order.municipality_id,
        data={
            "from": before,
            "to": wanted,
            "note": note,
            **{k: v for k, v in (values or {}).items() if k in ("failure_reason",)},
        },
    )
    return order


async def _release(session: AsyncSession, order: Order, actor: Actor | None) -> None:
    await vouchers.release(
        session,
        grant_id=order.grant_id,
        delivery_on=order.delivery_on,
        units=order.units,
        idempotency_key=f"order:{order.id}:release",
        actor=actor,
        order_ref=f"order:{order.id}",
    )
    await repository.give_back_capacity(
        session, scope=f"approval:{order.approval_id}", day=order.delivery_on, units=order.units
    )
    await repository.give_back_capacity(
        session, scope=f"offer:{order.offer_id}", day=order.delivery_on, units=order.units
    )


async def _redeem(session: AsyncSession, order: Order, actor: Actor | None) -> None:
    await vouchers.redeem(
        session,
        grant_id=order.grant_id,
        delivery_on=order.delivery_on,
        units=order.units,
        idempotency_key=f"order:{order.id}:redeem",
        actor=actor,
        order_ref=f"order:{order.id}",
    )


async def _order_for_provider(session: AsyncSession, actor: Actor, order_id: int) -> Order:
    order = await repository.get_order(session, order_id)
    if order is None or actor.provider_id is None or order.provider_id != actor.provider_id:
        raise OrderNotFound()
    return order


async def _order_for_citizen_side(
    session: AsyncSession, actor: Actor, order_id: int
) -> tuple[Order, Actor]:
    order = await repository.get_order(session, order_id)
    if order is None:
        raise OrderNotFound()
    try:
        acting = await vouchers.acting_for_citizen(
            session, actor=actor, citizen_id=order.citizen_id
        )
    except (PermissionDenied, NotFound) as exc:
        raise OrderNotFound() from exc
    return order, acting


async def cancel_order(
    session: AsyncSession, *, actor: Actor, order_id: int, now: datetime | None = None
) -> Order:
    """Before the cut-off the units come back; after it the cancellation is late:
    the meal was cooked, so the unit is used and the co-payment is owed."""
    now = now or utcnow()
    order, acting = await _order_for_citizen_side(session, actor, order_id)
    if now < order.cutoff_at:
        check_transition(order.status, OrderStatus.CANCELLED)
        await _release(session, order, acting)
        return await _move(session, order, OrderStatus.CANCELLED, actor=acting)
    check_transition(order.status, OrderStatus.LATE_CANCELLED)
    await _redeem(session, order, acting)
    return await _move(
        session, order, OrderStatus.LATE_CANCELLED, actor=acting, note="cancelled after the cut-off"
    )


async def accept_orders(
    session: AsyncSession, *, actor: Actor, order_ids: list[int]
) -> list[Order]:
    orders = [await _order_for_provider(session, actor, order_id) for order_id in order_ids]
    return [await _move(session, order, OrderStatus.ACCEPTED, actor=actor) for order in orders]


async def reject_order(session: AsyncSession, *, actor: Actor, order_id: int, reason: str) -> Order:
    reason = reason.strip()
    if not reason:
        raise InvalidInput(N_("Please give the citizen a reason for the rejection."))
    order = await _order_for_provider(session, actor, order_id)
    check_transition(order.status, OrderStatus.REJECTED)
    await _release(session, order, actor)
    return await _move(
        session,
        order,
        OrderStatus.REJECTED,
        actor=actor,
        note=reason,
        values={"status_note": reason},
    )


async def mark_out_for_delivery(
    session: AsyncSession, *, actor: Actor, order_ids: list[int]
) -> list[Order]:
    orders = [await _order_for_provider(session, actor, order_id) for order_id in order_ids]
    return [
        await _move(session, order, OrderStatus.OUT_FOR_DELIVERY, actor=actor) for order in orders
    ]


async def mark_delivered(
    session: AsyncSession, *, actor: Actor, order_id: int, now: datetime | None = None
) -> Order:
    now = now or utcnow()
    order = await _order_for_provider(session, actor, order_id)
    check_transition(order.status, OrderStatus.DELIVERED)
    await _redeem(session, order, actor)
    return await _move(
        session, order, OrderStatus.DELIVERED, actor=actor, values={"delivered_at": now}
    )


async def mark_failed(
    session: AsyncSession,
    *,
    actor: Actor,
    order_id: int,
    reason: FailureReason,
    note: str = "",
    settings: Settings,
    now: datetime | None = None,
) -> Order:
    """A citizen who does not open the door may have fallen: that raises a
    welfare alert at once. The unit is used then (the meal was cooked and
    driven); for the provider's own failures the unit comes back."""
    order = await _order_for_provider(session, actor, order_id)
    check_transition(order.status, OrderStatus.FAILED)
    if reason == FailureReason.CITIZEN_ABSENT:
        await _redeem(session, order, actor)
    else:
        await _release(session, order, actor)
    order = await _move(
        session,
        order,
        OrderStatus.FAILED,
        actor=actor,
        note=note or None,
        values={"failure_reason": reason},
    )
    if reason == FailureReason.CITIZEN_ABSENT:
        await _raise_alert(
            session, order=order, actor=actor, note=note, settings=settings, now=now or utcnow()
        )
    return order


async def _raise_alert(
    session: AsyncSession,
    *,
    order: Order,
    actor: Actor,
    note: str,
    settings: Settings,
    now: datetime,
) -> None:
    assert order.id is not None
    alert_id = await repository.insert_alert(
        session,
        {
            "municipality_id": order.municipality_id,
            "citizen_id": order.citizen_id,
            "order_id": order.id,
            "raised_at": now,
            "raised_by_user_id": actor.user_id,
            "provider_note": note or None,
        },
    )
    municipality = await municipalities.get(session, municipality_id=order.municipality_id)
    citizen = await vouchers.get_citizen(session, citizen_id=order.citizen_id)
    if municipality.oncall_email:
        await outbox.enqueue_email(
            session,
            settings=settings,
            idempotency_key=f"alert:{alert_id}:email",
            to=[municipality.oncall_email],
            subject=f"Velfærdsalarm: {citizen.full_name} åbnede ikke døren",
            body=(
                f"{citizen.full_name}, {citizen.address}, {citizen.postal_code}, "
                f"åbnede ikke for levering af mad {order.delivery_on.isoformat()}.\n"
                f"Telefon: {citizen.phone or '-'}. Kontaktperson: {citizen.contact_name or '-'} "
                f"{citizen.contact_phone or ''}\n"
                f"Leverandørens bemærkning: {note or '-'}\n\n"
                "Alarmen står åben i Velfærdsmarked, til en medarbejder kvitterer for den."
            ),
        )
    await audit.record(
        session,
        actor=actor,
        action="welfare_alert.raised",
        entity_type="welfare_alert",
        entity_id=alert_id,
        municipality_id=order.municipality_id,
        data={"order_id": order.id, "citizen_id": order.citizen_id},
    )


async def expire_unaccepted(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Orders nobody accepted in time expire and give their units back (tick)."""
    now = now or utcnow()
    expired = 0
    for order in await repository.placed_past_deadline(session, now):
        await _release(session, order, None)
        await _move(session, order, OrderStatus.EXPIRED, actor=None, note="not accepted in time")
        expired += 1
    return expired


# --- alerts and ratings ----------------------------------------------------


def _staff_of(actor: Actor, municipality_id: int) -> None:
    if actor.municipality_id != municipality_id or actor.role not in (
        Role.CASE_WORKER,
        Role.MUNICIPAL_ADMIN,
    ):
        raise AlertNotFound()


async def open_alerts(session: AsyncSession, *, actor: Actor) -> list[WelfareAlert]:
    if actor.municipality_id is None:
        return []
    return list(await repository.alerts(session, actor.municipality_id, open_only=True))


async def acknowledge_alert(
    session: AsyncSession, *, actor: Actor, alert_id: int, note: str
) -> WelfareAlert:
    note = note.strip()
    if not note:
        raise InvalidInput(N_("Please write what was done, e.g. who was called."))
    alert = await repository.get_alert(session, alert_id)
    if alert is None:
        raise AlertNotFound()
    _staff_of(actor, alert.municipality_id)
    if not await repository.acknowledge_alert(
        session,
        alert_id=alert_id,
        values={
            "acknowledged_at": utcnow(),
            "acknowledged_by_user_id": actor.user_id,
            "acknowledgement_note": note,
        },
    ):
        raise OrderTransitionRefused("acknowledged", "acknowledged")
    await session.refresh(alert)
    await audit.record(
        session,
        actor=actor,
        action="welfare_alert.acknowledged",
        entity_type="welfare_alert",
        entity_id=alert_id,
        municipality_id=alert.municipality_id,
        data={"note": note},
    )
    return alert


async def rate_order(
    session: AsyncSession, *, actor: Actor, order_id: int, stars: int, comment: str = ""
) -> Rating:
    if not 1 <= stars <= 5:
        raise InvalidInput(N_("Give between 1 and 5 stars."))
    order, acting = await _order_for_citizen_side(session, actor, order_id)
    if order.status != OrderStatus.DELIVERED:
        raise InvalidInput(N_("Only a delivered meal can be rated."))
    if await repository.rating_of(session, order_id) is not None:
        raise AlreadyRated()
    rating = await repository.add_rating(
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
