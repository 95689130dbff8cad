"""The order flow: catalogue, placing, cancelling, fulfilment, welfare alerts
and ratings. Voucher units move only through vouchers.service (reserve,
release, redeem); capacity through one conditional UPDATE per scope."""

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from babel.dates import format_date
from sqlalchemy.ext.asyncio import AsyncSession

from market import i18n, idempotency
from market.audit import service as audit
from market.auth import service as auth_service
from market.auth.models import Role
from market.auth.permissions import Actor
from market.clock import COPENHAGEN, local_instant
from market.config import Settings
from market.db import utcnow
from market.errors import N_, AppError, InvalidInput, NotFound, PermissionDenied
from market.municipalities import service as municipalities
from market.orders import repository
from market.orders.exceptions import (
    AlertNotFound,
    AlreadyAcknowledged,
    AlreadyRated,
    BeforeDeliveryDay,
    CapacityFull,
    ContainsAllergen,
    IdempotencyKeyReused,
    NotOfferedThatDay,
    OfferNotFound,
    OrderChangedMeanwhile,
    OrderNotFound,
    OrderTransitionRefused,
    OutsideServiceArea,
    PastCutoff,
    PausedThatDay,
    ProviderNotApproved,
    StandingOrderNotFound,
    WrongDietForm,
)
from market.orders.models import (
    ORDER_TRANSITIONS,
    FailureReason,
    Order,
    OrderStatus,
    Rating,
    StandingOrder,
    WelfareAlert,
)
from market.outbox import service as outbox
from market.payments import service as payments
from market.payments.models import CardPayment, CopaymentMethod
from market.payments.service import CopaymentDue, PaymentChoice
from providers import service as providers
from providers.models import Approval, Offer, OrderingProfile, Provider
from vouchers import service as vouchers
from vouchers.exceptions import NoGrantForDate
from vouchers.models import Citizen, VoucherGrant

# Statuses in which the order holds voucher units and capacity.
HOLDS_UNITS = frozenset({OrderStatus.PLACED, OrderStatus.ACCEPTED, OrderStatus.OUT_FOR_DELIVERY})


def check_transition(current: OrderStatus, wanted: OrderStatus) -> None:
    if wanted not in ORDER_TRANSITIONS[current]:
        raise OrderTransitionRefused(
            current.value.replace("_", " "), wanted.value.replace("_", " ")
        )


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
    # When nothing can be ordered because the cut-off has passed: when it was,
    # and the first later day that can still be ordered.
    closed_at: datetime | None = None
    next_open_on: date | None = None
    paused: bool = False


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
    missed: list[datetime] = []
    for offering in await providers.offerings_for(
        session,
        municipality_id=citizen.municipality_id,
        postal_code=citizen.postal_code,
        on=delivery_on,
    ):
        cutoff = cutoff_for(offering.profile, delivery_on)
        if cutoff <= now:
            missed.append(cutoff)
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
    closed_at = next_open = None
    if not entries and missed:
        closed_at = max(missed)
        next_open = await first_open_day(session, citizen=citizen, after=delivery_on, now=now)
    return Catalogue(
        citizen=citizen,
        grant=grant,
        delivery_on=delivery_on,
        entries=entries,
        closed_at=closed_at,
        next_open_on=next_open,
        paused=await paused_on(session, citizen_id=citizen.id, day=delivery_on),
    )


async def first_open_day(
    session: AsyncSession, *, citizen: Citizen, after: date, now: datetime
) -> date | None:
    """The first day after ``after`` (within the ordering horizon) for which a
    provider delivering to the citizen still takes orders."""
    last = _today_of(now) + timedelta(days=ORDER_DAYS_AHEAD)
    day = after + timedelta(days=1)
    while day <= last:
        for offering in await providers.offerings_for(
            session,
            municipality_id=citizen.municipality_id,
            postal_code=citizen.postal_code,
            on=day,
        ):
            if cutoff_for(offering.profile, day) > now:
                return day
        day += timedelta(days=1)
    return None


@dataclass(frozen=True)
class HelpLine:
    """Whom a citizen calls: shown on every citizen page."""

    name: str
    phone: str | None
    hours: str | None


async def help_for_citizen(session: AsyncSession, *, citizen_id: int) -> HelpLine:
    citizen = await vouchers.get_citizen(session, citizen_id=citizen_id)
    return await help_line(session, municipality_id=citizen.municipality_id)


async def help_line(session: AsyncSession, *, municipality_id: int) -> HelpLine:
    municipality = await municipalities.get(session, municipality_id=municipality_id)
    return HelpLine(
        name=municipality.name, phone=municipality.contact_phone, hours=municipality.opening_hours
    )


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
            secret=profile.signing_secrets(utcnow()),
            event=event,
            data={
                "order_id": order.id,
                "delivery_on": order.delivery_on.isoformat(),
                "offer_id": order.offer_id,
                "units": order.units,
                "status": order.status.value,
            },
            municipality_id=order.municipality_id,
        )


# The one rule for a client's Idempotency-Key (API header or form field).
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
    return await _place_order(
        session,
        actor=actor,
        citizen_id=citizen_id,
        offer_id=offer_id,
        delivery_on=delivery_on,
        key=scoped_key(actor, client_key(idempotency_key)),
        now=now,
    )


async def _place_order(
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
    now = now or utcnow()
    # Requests racing with one key wait here for each other, so the later ones
    # find the first order instead of failing on the unique key.
    await repository.lock_idempotency_key(session, key)
    existing = await repository.get_order_by_key(session, key)
    citizen, acting = await vouchers.citizen_for_ordering(
        session, actor=actor, citizen_id=citizen_id
    )
    assert citizen.id is not None
    if existing is not None:
        # As Stripe does: a key stands for one request; another one under it
        # is a mistake to report, not to answer with the first order.
        if (existing.citizen_id, existing.offer_id, existing.delivery_on) != (
            citizen.id,
            offer_id,
            delivery_on,
        ):
            raise IdempotencyKeyReused()
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
    if await paused_on(session, citizen_id=citizen.id, day=delivery_on):
        raise PausedThatDay(delivery_on)

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
        today=_today_of(now),
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
    await payments.record_order_placed(
        session,
        order_id=order_id,
        citizen_id=citizen.id,
        municipality_id=citizen.municipality_id,
        amount_ore=grant.copayment_ore * units,
        delivery_on=delivery_on,
        now=now,
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
    before = order.status
    check_transition(before, wanted)
    assert order.id is not None
    if not await repository.move_order(
        session,
        order_id=order.id,
        current=before,
        values={"status": wanted, **(values or {})},
    ):
        # Someone else moved it in the meantime: refuse against what it is now.
        fresh = await repository.get_order(session, order.id)
        assert fresh is not None
        check_transition(fresh.status, wanted)
        raise OrderChangedMeanwhile()
    await _event(session, order.id, before, wanted, actor, note)
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


async def _copayment(session: AsyncSession, order: Order, due: CopaymentDue) -> None:
    """The card payment (if the citizen pays by card) follows the order's outcome."""
    assert order.id is not None
    await payments.record_order_outcome(
        session, order_id=order.id, municipality_id=order.municipality_id, due=due
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
        await _copayment(session, order, CopaymentDue.NOT_OWED)
        await _notify_cancelled(session, order, OrderStatus.CANCELLED)
        return await _move(session, order, OrderStatus.CANCELLED, actor=acting)
    check_transition(order.status, OrderStatus.LATE_CANCELLED)
    await _redeem(session, order, acting)
    await _copayment(session, order, CopaymentDue.OWED)
    await _notify_cancelled(session, order, OrderStatus.LATE_CANCELLED)
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
    await _copayment(session, order, CopaymentDue.NOT_OWED)
    return await _move(
        session,
        order,
        OrderStatus.REJECTED,
        actor=actor,
        note=reason,
        values={"status_note": reason},
    )


def _on_its_day(order: Order, wanted: OrderStatus, now: datetime) -> None:
    """A meal is sent out, delivered or failed on its delivery day (or after,
    when marked late), never before: an early "citizen absent" would raise a
    false welfare alert and charge the co-payment."""
    check_transition(order.status, wanted)
    if _today_of(now) < order.delivery_on:
        raise BeforeDeliveryDay(order.delivery_on)


async def mark_out_for_delivery(
    session: AsyncSession, *, actor: Actor, order_ids: list[int], now: datetime | None = None
) -> list[Order]:
    now = now or utcnow()
    orders = [await _order_for_provider(session, actor, order_id) for order_id in order_ids]
    for order in orders:  # all or none
        _on_its_day(order, OrderStatus.OUT_FOR_DELIVERY, now)
    return [
        await _move(session, order, OrderStatus.OUT_FOR_DELIVERY, actor=actor) for order in orders
    ]


async def mark_delivered(
    session: AsyncSession, *, actor: Actor, order_id: int, now: datetime | None = None
) -> Order:
    now = now or utcnow()
    order = await _order_for_provider(session, actor, order_id)
    _on_its_day(order, OrderStatus.DELIVERED, now)
    await _redeem(session, order, actor)
    await _copayment(session, order, CopaymentDue.OWED)
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
    now = now or utcnow()
    order = await _order_for_provider(session, actor, order_id)
    _on_its_day(order, OrderStatus.FAILED, now)
    if reason == FailureReason.CITIZEN_ABSENT:
        await _redeem(session, order, actor)
        await _copayment(session, order, CopaymentDue.CITIZEN_ABSENT)
    else:
        await _release(session, order, actor)
        await _copayment(session, order, CopaymentDue.NOT_OWED)
    order = await _move(
        session,
        order,
        OrderStatus.FAILED,
        actor=actor,
        note=note or None,
        values={"failure_reason": reason},
    )
    if reason == FailureReason.CITIZEN_ABSENT:
        await _raise_alert(session, order=order, actor=actor, note=note, settings=settings, now=now)
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
    if municipality.oncall_email:
        # Only what the on-call person needs to act: that there is an alert, how
        # urgent, and where to open it. Who and where stay behind a sign-in; an
        # e-mail is copied, forwarded and kept in mailboxes outside our control.
        link = f"{settings.mail_link_base}/alerts#alert-{alert_id}"
        await outbox.enqueue_email(
            session,
            settings=settings,
            idempotency_key=f"alert:{alert_id}:email",
            to=[municipality.oncall_email],
            subject=f"Velfærdsalarm (haster): alarm nr. {alert_id} i {municipality.name}",
            body=(
                "En borger åbnede ikke døren, da maden blev leveret "
                f"{order.delivery_on.isoformat()}, og kan have brug for hjælp.\n\n"
                "Det haster: ring til borgeren eller kontaktpersonen, og kvittér for alarmen "
                f"inden for {settings.alert_overdue_minutes} minutter.\n\n"
                f"Åbn alarmen i Velfærdsmarked (log ind): {link}\n\n"
                "Borgerens navn, adresse og telefon står kun i Velfærdsmarked, ikke i denne e-mail."
            ),
            municipality_id=order.municipality_id,
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
    """Orders nobody accepted in time expire and give their units back."""
    now = now or utcnow()
    expired = 0
    for order_id in await unaccepted_past_deadline(session, now=now):
        expired += await expire_if_unaccepted(session, order_id=order_id, now=now)
    return expired


async def unaccepted_past_deadline(session: AsyncSession, *, now: datetime) -> list[int]:
    """The ids only: the periodic runner expires each in its own transaction."""
    return [o.id for o in await repository.placed_past_deadline(session, now) if o.id is not None]


async def expire_if_unaccepted(session: AsyncSession, *, order_id: int, now: datetime) -> bool:
    """One order, re-read, so an order accepted since the list was made is left alone."""
    order = await repository.get_order(session, order_id)
    if order is None or order.status != OrderStatus.PLACED or order.accept_by_at > now:
        return False
    await _release(session, order, None)
    await _copayment(session, order, CopaymentDue.NOT_OWED)
    await _move(session, order, OrderStatus.EXPIRED, actor=None, note="not accepted in time")
    return True


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
        raise AlreadyAcknowledged()
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


# --- kitchen board -----------------------------------------------------------
# The provider's side: the day's orders with the citizens they are for, the
# packing list and the route list, and the municipality's welfare alert queue.
# A provider sees only citizens who have ordered from it; citizens are loaded
# in one query per list, never one per order.

# Meals the kitchen cooks, packs and drives for a day (both lists).
TO_COOK = frozenset(
    {
        OrderStatus.ACCEPTED,
        OrderStatus.OUT_FOR_DELIVERY,
        OrderStatus.DELIVERED,
        OrderStatus.FAILED,
    }
)


@dataclass(frozen=True)
class KitchenLine:
    order: Order
    citizen: Citizen
    grant: VoucherGrant | None
    offer: Offer | None

    @property
    def diet_form(self) -> str:
        return self.grant.diet_form.value if self.grant else self.citizen.diet_form.value

    @property
    def allergies(self) -> list[str]:
        return sorted(set(self.citizen.allergies) | set(self.grant.allergies if self.grant else []))

    @property
    def offer_name(self) -> str:
        return self.offer.name if self.offer else f"#{self.order.offer_id}"


@dataclass(frozen=True)
class KitchenBoard:
    day: date
    lines: list[KitchenLine]
    profile: OrderingProfile

    def having(self, *statuses: OrderStatus) -> list[KitchenLine]:
        return [line for line in self.lines if line.order.status in statuses]

    @property
    def placed(self) -> list[KitchenLine]:
        return self.having(OrderStatus.PLACED)

    @property
    def accepted(self) -> list[KitchenLine]:
        return self.having(OrderStatus.ACCEPTED)

    @property
    def out_for_delivery(self) -> list[KitchenLine]:
        return self.having(OrderStatus.OUT_FOR_DELIVERY)

    @property
    def finished(self) -> list[KitchenLine]:
        return [line for line in self.lines if line.order.status not in HOLDS_UNITS]


@dataclass(frozen=True)
class PackingGroup:
    """One offer on the packing list: how many, in which diet forms, with which allergens."""

    offer_name: str
    allergens: list[str]
    diet_forms: list[tuple[str, int]]
    lines: list[KitchenLine]

    @property
    def count(self) -> int:
        return sum(line.order.units for line in self.lines)


def _kitchen_provider(actor: Actor) -> int:
    if actor.provider_id is None:
        raise PermissionDenied(N_("Only a provider's kitchen can see its orders."))
    return actor.provider_id


async def _kitchen_lines(
    session: AsyncSession, actor: Actor, orders: list[Order]
) -> list[KitchenLine]:
    citizens = await vouchers.citizens_by_ids(
        session, citizen_ids=sorted({o.citizen_id for o in orders})
    )
    grants = await vouchers.grants_by_ids(session, grant_ids=sorted({o.grant_id for o in orders}))
    offers = {o.id: o for o in await providers.offers_of_own_provider(session, actor=actor)}
    return [
        KitchenLine(
            order=order,
            citizen=citizens[order.citizen_id],
            grant=grants.get(order.grant_id),
            offer=offers.get(order.offer_id),
        )
        for order in orders
    ]


async def kitchen_board(session: AsyncSession, *, actor: Actor, day: date) -> KitchenBoard:
    """Every order of the actor's provider for one delivery day, by status."""
    provider_id = _kitchen_provider(actor)
    orders = list(await repository.orders_of_provider(session, provider_id, day=day, limit=5000))
    lines = await _kitchen_lines(session, actor, orders)
    lines.sort(key=lambda line: (line.citizen.postal_code, line.citizen.address, line.order.id))
    profile = await providers.own_ordering_profile(session, actor=actor)
    return KitchenBoard(day=day, lines=lines, profile=profile)


async def kitchen_orders(
    session: AsyncSession, *, actor: Actor, day: date | None, status: OrderStatus | None
) -> list[KitchenLine]:
    """For kitchen systems: the provider's orders, optionally for one day and status."""
    provider_id = _kitchen_provider(actor)
    orders = list(
        await repository.orders_of_provider(
            session,
            provider_id,
            day=day,
            statuses=frozenset({status}) if status else None,
            limit=5000,
        )
    )
    return await _kitchen_lines(session, actor, orders)


def packing_groups(board: KitchenBoard) -> list[PackingGroup]:
    groups: dict[str, list[KitchenLine]] = {}
    for line in board.having(*TO_COOK):
        groups.setdefault(line.offer_name, []).append(line)
    result = []
    for name in sorted(groups):
        lines = sorted(groups[name], key=lambda line: line.citizen.full_name)
        forms: dict[str, int] = {}
        for line in lines:
            forms[line.diet_form] = forms.get(line.diet_form, 0) + line.order.units
        offer = lines[0].offer
        result.append(
            PackingGroup(
                offer_name=name,
                allergens=sorted(offer.allergens) if offer else [],
                diet_forms=sorted(forms.items()),
                lines=lines,
            )
        )
    return result


def route_groups(board: KitchenBoard) -> list[tuple[str, list[KitchenLine]]]:
    """The meals on the packing list, by postal code and then address: the two
    lists hold the same orders, so no packed meal is left without a stop."""
    groups: dict[str, list[KitchenLine]] = {}
    for line in board.having(*TO_COOK):
        groups.setdefault(line.citizen.postal_code, []).append(line)
    return [(code, groups[code]) for code in sorted(groups)]


async def _notify_cancelled(session: AsyncSession, order: Order, status: OrderStatus) -> None:
    """Tells the provider's kitchen system that a meal it may be planning is off."""
    profile = await providers.ordering_profile_of(session, provider_id=order.provider_id)
    if profile is not None and profile.webhook_url and profile.webhook_secret:
        await outbox.enqueue_webhook(
            session,
            idempotency_key=f"webhook:order.cancelled:{order.id}",
            url=profile.webhook_url,
            secret=profile.signing_secrets(utcnow()),
            event="order.cancelled",
            data={
                "order_id": order.id,
                "delivery_on": order.delivery_on.isoformat(),
                "offer_id": order.offer_id,
                "units": order.units,
                "status": status.value,
            },
            municipality_id=order.municipality_id,
        )


# --- welfare alert queue -----------------------------------------------------


@dataclass(frozen=True)
class AlertEntry:
    alert: WelfareAlert
    citizen: Citizen
    order: Order | None
    overdue: bool


@dataclass(frozen=True)
class AlertQueue:
    open: list[AlertEntry]
    history: list[AlertEntry]
    overdue_minutes: int


async def _alert_entries(
    session: AsyncSession, alerts: list[WelfareAlert], overdue_before: datetime | None
) -> list[AlertEntry]:
    citizens = await vouchers.citizens_by_ids(
        session, citizen_ids=sorted({a.citizen_id for a in alerts})
    )
    orders = await repository.orders_by_ids(session, sorted({a.order_id for a in alerts}))
    return [
        AlertEntry(
            alert=alert,
            citizen=citizens[alert.citizen_id],
            order=orders.get(alert.order_id),
            overdue=overdue_before is not None and alert.raised_at <= overdue_before,
        )
        for alert in alerts
    ]


async def alert_queue(
    session: AsyncSession, *, actor: Actor, settings: Settings, now: datetime | None = None
) -> AlertQueue:
    """Open alerts of the actor's municipality, oldest first; those nobody
    acknowledged within settings.alert_overdue_minutes are overdue. Then the
    most recently acknowledged ones."""
    now = now or utcnow()
    minutes = settings.alert_overdue_minutes
    if actor.municipality_id is None:
        return AlertQueue(open=[], history=[], overdue_minutes=minutes)
    open_ = list(await repository.alerts(session, actor.municipality_id, open_only=True))
    done = list(await repository.acknowledged_alerts(session, actor.municipality_id))
    return AlertQueue(
        open=await _alert_entries(session, open_, now - timedelta(minutes=minutes)),
        history=await _alert_entries(session, done, None),
        overdue_minutes=minutes,
    )


def parse_order_status(value: str | None) -> OrderStatus | None:
    if value is None or not value.strip():
        return None
    try:
        return OrderStatus(value.strip())
    except ValueError as exc:
        raise InvalidInput(N_("{value} is not an order status."), value=value) from exc


def parse_failure_reason(value: str) -> FailureReason:
    try:
        return FailureReason(value.strip())
    except ValueError as exc:
        raise InvalidInput(N_("Please choose why the meal was not delivered.")) from exc


async def acknowledge_alert_entry(
    session: AsyncSession, *, actor: Actor, alert_id: int, note: str
) -> AlertEntry:
    """Acknowledges the alert and returns it with its citizen, for the API."""
    alert = await acknowledge_alert(session, actor=actor, alert_id=alert_id, note=note)
    [entry] = await _alert_entries(session, [alert], None)
    return entry


async def open_alert_count(session: AsyncSession, *, actor: Actor) -> int:
    """For the badge in the menu: one COUNT, only for staff who handle alerts."""
    if actor.municipality_id is None or actor.role not in (Role.CASE_WORKER, Role.MUNICIPAL_ADMIN):
        return 0
    return await repository.count_open_alerts(session, actor.municipality_id)


# --- standing orders -------------------------------------------------------------
# The citizen's side of ordering (also proxies and case workers by phone): the
# start page, "my orders", one order, the same meal on several days, standing
# weekly orders and the periodic job that places them ahead.

ORDER_DAYS_AHEAD = 7
CANCELLABLE = frozenset({OrderStatus.PLACED, OrderStatus.ACCEPTED})


@dataclass(frozen=True)
class DayChoice:
    day: date
    orders: list[Order]
    # The cut-off for this day has passed for every provider (when it was).
    closed_at: datetime | None = None
    paused: bool = False


@dataclass(frozen=True)
class OrderingStart:
    """Step 1: whom the order is for (a proxy may have several) and the coming days."""

    citizen: Citizen | None
    choices: list[Citizen]
    grant: VoucherGrant | None
    days: list[DayChoice]


@dataclass(frozen=True)
class OrderLine:
    order: Order
    offer: Offer | None
    provider: Provider | None
    can_cancel: bool
    late: bool
    can_rate: bool
    rating: Rating | None
    window_start: time | None = None

    @property
    def municipality_pays_ore(self) -> int:
        return self.order.unit_price_ore - self.order.copayment_ore


@dataclass(frozen=True)
class StandingLine:
    standing: StandingOrder
    offer: Offer | None
    provider: Provider | None

    @property
    def weekdays(self) -> list[int]:
        return [int(d) for d in self.standing.weekdays.split(",") if d]


@dataclass(frozen=True)
class MyOrders:
    citizen: Citizen | None
    choices: list[Citizen]
    upcoming: list[OrderLine]
    past: list[OrderLine]
    standing: list[StandingLine]


@dataclass
class StandingReport:
    standing_orders: int = 0
    placed: int = 0
    problems: int = 0


def _today_of(now: datetime) -> date:
    return now.astimezone(COPENHAGEN).date()


async def _whom(
    session: AsyncSession, actor: Actor, citizen_id: int | None
) -> tuple[Citizen | None, list[Citizen]]:
    """The citizen the pages are about. A proxy linked to several people chooses
    first (the same choice as on "my voucher"); staff always name the citizen."""
    if actor.role in (Role.CITIZEN, Role.PROXY):
        view = await vouchers.my_voucher(session, actor=actor, citizen_id=citizen_id, weeks_ahead=0)
        return view.citizen, view.choices
    citizen, _ = await vouchers.citizen_for_ordering(session, actor=actor, citizen_id=citizen_id)
    return citizen, []


async def ordering_start(
    session: AsyncSession, *, actor: Actor, citizen_id: int | None, now: datetime | None = None
) -> OrderingStart:
    """The next days as choices, each with the orders already placed for it."""
    now = now or utcnow()
    today = _today_of(now)
    citizen, choices = await _whom(session, actor, citizen_id)
    if citizen is None or citizen.id is None:
        return OrderingStart(citizen=None, choices=choices, grant=None, days=[])
    days = [today + timedelta(days=n) for n in range(1, ORDER_DAYS_AHEAD + 1)]
    orders = await repository.orders_of_citizen(session, citizen.id, from_day=days[0])
    grant = await vouchers.active_grant_on(session, citizen_id=citizen.id, day=days[0])
    pauses = await repository.pauses_of_citizen(session, citizen.id, not_ended_before=days[0])
    # Only tomorrow's (and perhaps the day after's) cut-off can have passed.
    closed: dict[date, datetime] = {}
    for day in days[:2]:
        cutoffs = [
            cutoff_for(o.profile, day)
            for o in await providers.offerings_for(
                session,
                municipality_id=citizen.municipality_id,
                postal_code=citizen.postal_code,
                on=day,
            )
        ]
        if cutoffs and all(c <= now for c in cutoffs):
            closed[day] = max(cutoffs)
    return OrderingStart(
        citizen=citizen,
        choices=choices,
        grant=grant,
        days=[
            DayChoice(
                day=day,
                orders=[o for o in orders if o.delivery_on == day and o.status in HOLDS_UNITS],
                closed_at=closed.get(day),
                paused=any(p.covers(day) for p in pauses),
            )
            for day in days
        ],
    )


async def _lines(session: AsyncSession, orders: list[Order], now: datetime) -> list[OrderLine]:
    offers, providers_ = await providers.offers_and_providers(
        session, offer_ids=[o.offer_id for o in orders]
    )
    ratings = await repository.ratings_of(session, [o.id for o in orders if o.id is not None])
    windows: dict[int, time] = {}
    for provider_id in {o.provider_id for o in orders}:
        profile = await providers.ordering_profile_of(session, provider_id=provider_id)
        windows[provider_id] = (profile or OrderingProfile(provider_id=provider_id)).window_start
    lines = []
    for order in orders:
        offer = offers.get(order.offer_id)
        rating = ratings.get(order.id or 0)
        lines.append(
            OrderLine(
                order=order,
                offer=offer,
                provider=providers_.get(order.provider_id),
                can_cancel=order.status in CANCELLABLE,
                late=now >= order.cutoff_at,
                can_rate=order.status == OrderStatus.DELIVERED and rating is None,
                rating=rating,
                window_start=windows.get(order.provider_id),
            )
        )
    return lines


async def _standing_lines(session: AsyncSession, citizen_id: int) -> list[StandingLine]:
    standing = list(await repository.standing_orders_of_citizen(session, citizen_id))
    offers, providers_ = await providers.offers_and_providers(
        session, offer_ids=[s.offer_id for s in standing]
    )
    return [
        StandingLine(
            standing=s,
            offer=offers.get(s.offer_id),
            provider=providers_.get(offers[s.offer_id].provider_id)
            if s.offer_id in offers
            else None,
        )
        for s in standing
    ]


async def my_orders(
    session: AsyncSession, *, actor: Actor, citizen_id: int | None, now: datetime | None = None
) -> MyOrders:
    """Upcoming orders (soonest first), earlier and closed ones, and standing orders."""
    now = now or utcnow()
    today = _today_of(now)
    citizen, choices = await _whom(session, actor, citizen_id)
    if citizen is None or citizen.id is None:
        return MyOrders(citizen=None, choices=choices, upcoming=[], past=[], standing=[])
    orders = list(await repository.orders_of_citizen(session, citizen.id, limit=200))
    lines = await _lines(session, orders, now)
    upcoming = [
        line
        for line in lines
        if line.order.status in HOLDS_UNITS and line.order.delivery_on >= today
    ]
    upcoming.sort(key=lambda line: (line.order.delivery_on, line.order.id or 0))
    past = [line for line in lines if line not in upcoming]
    return MyOrders(
        citizen=citizen,
        choices=choices,
        upcoming=upcoming,
        past=past,
        standing=await _standing_lines(session, citizen.id),
    )


async def order_details(
    session: AsyncSession, *, actor: Actor, order_id: int, now: datetime | None = None
) -> OrderLine:
    """One order as its citizen (or whoever may act for them) sees it."""
    order, _ = await _order_for_citizen_side(session, actor, order_id)
    [line] = await _lines(session, [order], now or utcnow())
    return line


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
    key = scoped_key(actor, client_key(idempotency_key))
    await repository.lock_idempotency_key(session, key)
    before = await repository.get_order_by_key(session, key)
    order = await _place_order(
        session,
        actor=actor,
        citizen_id=citizen_id,
        offer_id=offer_id,
        delivery_on=delivery_on,
        key=key,
        now=now,
    )
    return order, before is None


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
    order, _ = await _order_for_citizen_side(session, actor, order_id)
    await repository.lock_idempotency_key(session, scoped_key(actor, key))
    return [
        await _place_order(
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


def _weekdays_text(weekdays: list[int]) -> str:
    days = sorted(set(weekdays))
    if not days or any(d < 1 or d > 7 for d in days):
        raise InvalidInput(N_("Choose at least one weekday."))
    return ",".join(str(d) for d in days)


def _problem_sentence(language: str, day: date, exc: AppError) -> str:
    """Stored in the citizen's own language: they read it on "my orders"."""
    language = language if language in i18n.LANGUAGES else "da"
    catalogue_ = i18n.translations(language)
    reason = catalogue_.gettext(exc.message)
    if exc.params:
        reason = reason.format(**exc.params)
    when = format_date(
        day,
        "EEEE d. MMMM" if language == "da" else "EEEE d MMMM",
        locale="da_DK" if language == "da" else "en_GB",
    )
    sentence = catalogue_.gettext(N_("We could not order for {day}: {reason}"))
    return sentence.format(day=when, reason=reason[:1].lower() + reason[1:])


async def _place_ahead(
    session: AsyncSession, standing: StandingOrder, *, now: datetime, days_ahead: int
) -> tuple[int, bool]:
    """Places the standing order's days in the window. Each placement acts as the
    citizen's own user (the standing order is the citizen's instruction; the
    order's standing_order_id leads to whoever set it up, and stays valid if a
    proxy is later unlinked). A refused day is retried next round until its
    cut-off; placed_through_on stops before the first refused day."""
    assert standing.id is not None
    citizen = await vouchers.get_citizen(session, citizen_id=standing.citizen_id)
    user = await auth_service.get_user(session, user_id=citizen.user_id)
    as_citizen = auth_service.actor_for(user)
    today = _today_of(now)
    weekdays = {int(d) for d in standing.weekdays.split(",") if d}
    first = today + timedelta(days=1)
    if standing.placed_through_on is not None and standing.placed_through_on >= first:
        first = standing.placed_through_on + timedelta(days=1)
    last = today + timedelta(days=days_ahead)
    pauses = await repository.pauses_of_citizen(
        session, standing.citizen_id, not_ended_before=first
    )
    placed, problem, first_refused = 0, None, None
    day = first
    while day <= last:
        # A paused day is skipped, not refused: the order starts again by
        # itself on the day the pause ends.
        if day.isoweekday() in weekdays and not any(p.covers(day) for p in pauses):
            key = await _standing_key(session, standing.id, day)
            try:
                async with session.begin_nested():
                    before = await repository.get_order_by_key(session, key)
                    await _place_order(
                        session,
                        actor=as_citizen,
                        citizen_id=None,
                        offer_id=standing.offer_id,
                        delivery_on=day,
                        key=key,
                        now=now,
                        standing_order_id=standing.id,
                    )
                placed += before is None
            except PastCutoff:
                pass  # too late for that day by now; nothing to retry
            except AppError as exc:
                if first_refused is None:
                    first_refused = day
                    problem = _problem_sentence(citizen.language, day, exc)
        day += timedelta(days=1)
    values: dict[str, object] = {
        "placed_through_on": first_refused - timedelta(days=1) if first_refused else last
    }
    if problem is not None:
        values.update(last_problem=problem, last_problem_at=now)
    elif placed:
        values.update(last_problem=None, last_problem_at=None)
    await repository.update_standing_order(session, standing_id=standing.id, values=values)
    return placed, problem is not None


async def _standing_key(session: AsyncSession, standing_id: int, day: date) -> str:
    """The day's key; when a pause cancelled the order under it and the pause
    has since been shortened, the next key, so the day can be placed again
    (the ledger's keys derive from it, so a key is never reused)."""
    base = f"standing:{standing_id}:{day.isoformat()}"
    key, again = base, 0
    while True:
        existing = await repository.get_order_by_key(session, key)
        if existing is None or existing.pause_id is None:
            return key
        again += 1
        key = f"{base}:again-{again}"


async def paused_on(session: AsyncSession, *, citizen_id: int, day: date) -> bool:
    pauses = await repository.pauses_of_citizen(session, citizen_id, not_ended_before=day)
    return any(p.covers(day) for p in pauses)


async def place_standing_orders(
    session: AsyncSession,
    *,
    today: date | None = None,
    days_ahead: int = ORDER_DAYS_AHEAD,
    now: datetime | None = None,
) -> StandingReport:
    """Periodic job (market tick): places every active standing order ahead,
    while units and capacity are there, one idempotency key per day."""
    now = now or utcnow()
    if today is not None and _today_of(now) != today:
        now = local_instant(today, time(0, 5))
    report = StandingReport()
    for standing in await repository.active_standing_orders(session):
        placed, refused = await _place_ahead(session, standing, now=now, days_ahead=days_ahead)
        report.standing_orders += 1
        report.placed += placed
        report.problems += refused
    return report


async def active_standing_order_ids(session: AsyncSession) -> list[int]:
    return [s.id for s in await repository.active_standing_orders(session) if s.id is not None]


async def place_one_standing_order(
    session: AsyncSession, *, standing_id: int, now: datetime, days_ahead: int = ORDER_DAYS_AHEAD
) -> StandingReport:
    """One standing order placed ahead, for the runner's commit per item."""
    report = StandingReport()
    standing = await repository.get_standing_order(session, standing_id)
    if standing is None or not standing.active:
        return report
    placed, refused = await _place_ahead(session, standing, now=now, days_ahead=days_ahead)
    report.standing_orders, report.placed, report.problems = 1, placed, refused
    return report


async def _standing_for_citizen_side(
    session: AsyncSession, actor: Actor, standing_id: int
) -> tuple[StandingOrder, Actor]:
    standing = await repository.get_standing_order(session, standing_id)
    if standing is None:
        raise StandingOrderNotFound()
    try:
        acting = await vouchers.acting_for_citizen(
            session, actor=actor, citizen_id=standing.citizen_id
        )
    except (PermissionDenied, NotFound) as exc:
        raise StandingOrderNotFound() from exc
    return standing, acting


async def create_standing_order(
    session: AsyncSession,
    *,
    actor: Actor,
    citizen_id: int | None,
    offer_id: int,
    weekdays: list[int],
    now: datetime | None = None,
) -> StandingOrder:
    """A weekly pattern, e.g. every Monday to Friday this meal. Checked now against the offer, the
    citizen's postal code, diet and allergies; then placed ahead at once."""
    now = now or utcnow()
    days = _weekdays_text(weekdays)
    citizen, acting = await vouchers.citizen_for_ordering(
        session, actor=actor, citizen_id=citizen_id
    )
    assert citizen.id is not None
    tomorrow = _today_of(now) + timedelta(days=1)
    offering = await providers.offering(
        session, offer_id=offer_id, municipality_id=citizen.municipality_id, on=tomorrow
    )
    if offering is None:
        raise OfferNotFound()
    if citizen.postal_code not in offering.postal_codes:
        raise OutsideServiceArea(citizen.postal_code)
    if any(not offering.offer.offered_on(d) for d in weekdays):
        raise InvalidInput(N_("This meal is not offered on every weekday you chose."))
    grant = await vouchers.active_grant_on(session, citizen_id=citizen.id, day=tomorrow)
    if grant is None:
        raise NoGrantForDate(tomorrow)
    if grant.diet_form.value not in offering.offer.diet_forms:
        raise WrongDietForm(grant.diet_form.value)
    forbidden = sorted(
        set(offering.offer.allergens) & (set(citizen.allergies) | set(grant.allergies))
    )
    if forbidden:
        raise ContainsAllergen(", ".join(forbidden))
    standing = await repository.add_standing_order(
        session,
        StandingOrder(
            citizen_id=citizen.id,
            offer_id=offer_id,
            weekdays=days,
            created_by_user_id=actor.user_id,
            created_at=now,
        ),
    )
    assert standing.id is not None
    await audit.record(
        session,
        actor=acting,
        action="standing_order.created",
        entity_type="standing_order",
        entity_id=standing.id,
        municipality_id=citizen.municipality_id,
        data={"citizen_id": citizen.id, "offer_id": offer_id, "weekdays": days},
    )
    await _place_ahead(session, standing, now=now, days_ahead=ORDER_DAYS_AHEAD)
    await session.refresh(standing)
    return standing


async def change_standing_order(
    session: AsyncSession,
    *,
    actor: Actor,
    standing_id: int,
    active: bool | None = None,
    weekdays: list[int] | None = None,
) -> StandingOrder:
    """Stop, resume or change the weekdays. Orders already placed stay; each can
    be cancelled on its own."""
    standing, acting = await _standing_for_citizen_side(session, actor, standing_id)
    values: dict[str, object] = {}
    if active is not None and active != standing.active:
        values["active"] = active
        if active:
            # Resuming places from tomorrow on, not the days skipped while stopped.
            values["placed_through_on"] = None
    if weekdays is not None:
        text = _weekdays_text(weekdays)
        if text != standing.weekdays:
            values["weekdays"] = text
    if not values:
        return standing
    await repository.update_standing_order(session, standing_id=standing_id, values=values)
    await session.refresh(standing)
    citizen = await vouchers.get_citizen(session, citizen_id=standing.citizen_id)
    await audit.record(
        session,
        actor=acting,
        action="standing_order.changed",
        entity_type="standing_order",
        entity_id=standing_id,
        municipality_id=citizen.municipality_id,
        data={k: v for k, v in values.items() if k != "placed_through_on"},
    )
    if values.get("active") is True:
        await _place_ahead(session, standing, now=utcnow(), days_ahead=ORDER_DAYS_AHEAD)
        await session.refresh(standing)
    return standing


async def standing_orders(
    session: AsyncSession, *, actor: Actor, citizen_id: int | None
) -> list[StandingLine]:
    citizen, _ = await vouchers.citizen_for_ordering(session, actor=actor, citizen_id=citizen_id)
    assert citizen.id is not None
    return await _standing_lines(session, citizen.id)


# --- how the citizen pays the co-payment -----------------------------------------
# The choice lives in market.payments, which may not see citizens; who may act
# for whom is checked here, as for ordering.


@dataclass(frozen=True)
class CopaymentMethodView:
    citizen: Citizen
    choice: PaymentChoice
    card_payments: list[CardPayment]


async def copayment_method(
    session: AsyncSession, *, actor: Actor, citizen_id: int | None, settings: Settings
) -> CopaymentMethodView:
    """How this citizen pays, and their recent card payments."""
    citizen, _ = await vouchers.citizen_for_ordering(session, actor=actor, citizen_id=citizen_id)
    assert citizen.id is not None
    return CopaymentMethodView(
        citizen=citizen,
        choice=await payments.payment_choice(session, citizen_id=citizen.id, settings=settings),
        card_payments=list(await payments.card_payments_of_citizen(session, citizen_id=citizen.id)),
    )


async def choose_copayment_method(
    session: AsyncSession,
    *,
    actor: Actor,
    citizen_id: int | None,
    method: str,
    settings: Settings,
    payment_method_id: str | None = None,
) -> CopaymentMethodView:
    """The citizen, their proxy or their case worker chooses the monthly
    statement or a card; the change applies to orders placed from now on."""
    try:
        chosen = CopaymentMethod(method)
    except ValueError as exc:
        raise InvalidInput(N_("Choose the monthly statement or a card.")) from exc
    citizen, acting = await vouchers.citizen_for_ordering(
        session, actor=actor, citizen_id=citizen_id
    )
    assert citizen.id is not None
    user = await auth_service.get_user(session, user_id=citizen.user_id)
    await payments.choose_payment_method(
        session,
        acting=acting,
        citizen_id=citizen.id,
        municipality_id=citizen.municipality_id,
        method=chosen,
        settings=settings,
        gateway=payments.get_gateway(settings),
        payment_method_id=payment_method_id,
        citizen_name=citizen.full_name,
        citizen_email=user.email,
    )
    return await copayment_method(session, actor=actor, citizen_id=citizen.id, settings=settings)
