"""Standing orders: a weekly pattern the periodic job places ahead, one
idempotency key per day, while units and capacity are there."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from babel.dates import format_date
from sqlalchemy.ext.asyncio import AsyncSession

from market import i18n
from market.audit import service as audit
from market.auth import service as auth_service
from market.auth.permissions import Actor
from market.clock import local_instant
from market.db import utcnow
from market.errors import N_, AppError, InvalidInput
from market.orders import repository
from market.orders.catalogue.service import check_diet
from market.orders.exceptions import (
    OfferNotFound,
    OutsideServiceArea,
    PastCutoff,
    StandingOrderNotFound,
)
from market.orders.models import StandingOrder
from market.orders.moves.service import ORDER_DAYS_AHEAD, acting_for, today_of
from market.orders.placement.service import place_under_key
from providers import service as providers
from providers.models import Offer, Provider
from vouchers import service as vouchers
from vouchers.exceptions import NoGrantForDate


@dataclass(frozen=True)
class StandingLine:
    standing: StandingOrder
    offer: Offer | None
    provider: Provider | None

    @property
    def weekdays(self) -> list[int]:
        return [int(d) for d in self.standing.weekdays.split(",") if d]


@dataclass
class StandingReport:
    standing_orders: int = 0
    placed: int = 0
    problems: int = 0


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


async def place_ahead(
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
    today = today_of(now)
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
                    await place_under_key(
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
    if today is not None and today_of(now) != today:
        now = local_instant(today, time(0, 5))
    report = StandingReport()
    for standing in await repository.active_standing_orders(session):
        placed, refused = await place_ahead(session, standing, now=now, days_ahead=days_ahead)
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
    placed, refused = await place_ahead(session, standing, now=now, days_ahead=days_ahead)
    report.standing_orders, report.placed, report.problems = 1, placed, refused
    return report


async def _standing_for_citizen_side(
    session: AsyncSession, actor: Actor, standing_id: int
) -> tuple[StandingOrder, Actor]:
    standing = await repository.get_standing_order(session, standing_id)
    if standing is None:
        raise StandingOrderNotFound()
    return standing, await acting_for(session, actor, standing.citizen_id, StandingOrderNotFound)


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
    tomorrow = today_of(now) + timedelta(days=1)
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
    check_diet(offering.offer, citizen, grant)
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
    await place_ahead(session, standing, now=now, days_ahead=ORDER_DAYS_AHEAD)
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
        await place_ahead(session, standing, now=utcnow(), days_ahead=ORDER_DAYS_AHEAD)
        await session.refresh(standing)
    return standing


async def standing_orders(
    session: AsyncSession, *, actor: Actor, citizen_id: int | None
) -> list[StandingLine]:
    citizen, _ = await vouchers.citizen_for_ordering(session, actor=actor, citizen_id=citizen_id)
    assert citizen.id is not None
    return await standing_lines(session, citizen.id)


async def standing_lines(session: AsyncSession, citizen_id: int) -> list[StandingLine]:
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
