"""The citizen's side of ordering (also proxies and case workers by phone): the
start page, "my orders", one order, and how the co-payment is paid (the choice
lives in market.payments, which may not see citizens; who may act for whom is
checked here, as for ordering)."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from market.auth import service as auth_service
from market.auth.models import Role
from market.auth.permissions import Actor
from market.config import Settings
from market.db import utcnow
from market.errors import N_, InvalidInput
from market.orders import repository
from market.orders.catalogue import service as catalogue
from market.orders.models import Order, OrderStatus, Rating
from market.orders.moves.service import (
    CANCELLABLE,
    HOLDS_UNITS,
    ORDER_DAYS_AHEAD,
    order_for_citizen_side,
    today_of,
)
from market.orders.standing.service import StandingLine, standing_lines
from market.payments import service as payments
from market.payments.models import CardPayment, CopaymentMethod
from market.payments.service import PaymentChoice
from providers import service as providers
from providers.models import Offer, OrderingProfile, Provider
from vouchers import service as vouchers
from vouchers.models import Citizen, VoucherGrant


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
class MyOrders:
    citizen: Citizen | None
    choices: list[Citizen]
    upcoming: list[OrderLine]
    past: list[OrderLine]
    standing: list[StandingLine]


async def _whom(
    session: AsyncSession, actor: Actor, citizen_id: int | None
) -> tuple[Citizen | None, list[Citizen]]:
    """The citizen the pages are about. A proxy linked to several people chooses
    first (the same choice as on "my voucher"); staff always name the citizen."""
    if actor.role in (Role.CITIZEN, Role.PROXY):
        return await vouchers.own_citizen(session, actor=actor, citizen_id=citizen_id)
    citizen, _ = await vouchers.citizen_for_ordering(session, actor=actor, citizen_id=citizen_id)
    return citizen, []


async def ordering_start(
    session: AsyncSession, *, actor: Actor, citizen_id: int | None, now: datetime | None = None
) -> OrderingStart:
    """The next days as choices, each with the orders already placed for it."""
    now = now or utcnow()
    today = today_of(now)
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
        closed_at = await catalogue.day_closed_at(session, citizen=citizen, day=day, now=now)
        if closed_at is not None:
            closed[day] = closed_at
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


async def my_orders(
    session: AsyncSession, *, actor: Actor, citizen_id: int | None, now: datetime | None = None
) -> MyOrders:
    """Upcoming orders (soonest first), earlier and closed ones, and standing orders."""
    now = now or utcnow()
    today = today_of(now)
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
        standing=await standing_lines(session, citizen.id),
    )


async def order_details(
    session: AsyncSession, *, actor: Actor, order_id: int, now: datetime | None = None
) -> OrderLine:
    """One order as its citizen (or whoever may act for them) sees it."""
    order, _ = await order_for_citizen_side(session, actor, order_id)
    [line] = await _lines(session, [order], now or utcnow())
    return line


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
