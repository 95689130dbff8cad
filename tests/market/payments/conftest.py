"""Card co-payments through the order flow, with the offline gateway or the
real Stripe SDK against localstripe (tests/stripe_server.py)."""

import json
import urllib.request
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.audit.models import AuditEvent
from market.clock import local_instant
from market.orders import service as orders
from market.payments import repository
from market.payments import service as payments
from market.payments.gateway import OfflineGateway
from market.payments.models import CardPayment, CopaymentMethod
from market.payments.stripe_gateway import StripeGateway
from tests.market.orders.conftest import Diner, days_ahead, diner, kitchen, noon_before  # noqa: F401
from tests.market.orders.outbox_helpers import same_connection
from tests.vouchers.conftest import caps  # noqa: F401 (fixture)


class Payments:
    """One test's way to the gateway and the worker."""

    def __init__(self, kind: str, settings, gateway, base: str | None) -> None:
        self.kind = kind
        self.settings = settings
        self.gateway = gateway
        self.base = base

    async def pay_by_card(self, session: AsyncSession, who: Diner, card: str = "pm_card_visa"):
        choice = await payments.choose_payment_method(
            session,
            acting=who.me,
            citizen_id=who.citizen.id,
            municipality_id=who.citizen.municipality_id,
            method=CopaymentMethod.CARD,
            settings=self.settings,
            gateway=self.gateway,
            payment_method_id=card,
            citizen_name=who.citizen.full_name,
        )
        await session.commit()
        return choice

    async def run(self, session: AsyncSession, now: datetime):
        await session.commit()
        return await payments.process_card_payments(
            same_connection(session), settings=self.settings, gateway=self.gateway, now=now
        )

    def intents(self) -> list[dict]:
        """Every PaymentIntent localstripe holds (Stripe's own list, newest first)."""
        assert self.base is not None
        request = urllib.request.Request(
            self.base + "/v1/payment_intents?limit=100",
            headers={"Authorization": "Bearer sk_test_count"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())["data"]

    def money_moves(self) -> list[tuple[str, str]]:
        assert isinstance(self.gateway, OfflineGateway)
        return list(self.gateway.calls)


@pytest.fixture(
    params=["offline", pytest.param("stripe", marks=pytest.mark.stripe)],
)
def pay(request, settings) -> Payments:
    if request.param == "offline":
        # A fresh ledger per test, so counting its calls means something.
        return Payments("offline", settings, OfflineGateway(), None)
    stripe_settings = request.getfixturevalue("stripe_settings")
    return Payments(
        "stripe", stripe_settings, StripeGateway(stripe_settings), stripe_settings.stripe_api_base
    )


async def place(session, kit, who, day, key="k1", now=None):
    order = await orders.place_order(
        session,
        actor=who.me,
        citizen_id=None,
        offer_id=kit.offer.id,
        delivery_on=day,
        idempotency_key=key,
        now=now or noon_before(day),
    )
    await session.commit()
    return order


def on_the_day(order) -> datetime:
    """A moment on the order's delivery day, when the kitchen may hand it over."""
    return local_instant(order.delivery_on, time(12, 0))


async def deliver(session, kit, order):
    await orders.accept_orders(session, actor=kit.staff, order_ids=[order.id])
    await orders.mark_out_for_delivery(
        session, actor=kit.staff, order_ids=[order.id], now=on_the_day(order)
    )
    done = await orders.mark_delivered(
        session, actor=kit.staff, order_id=order.id, now=on_the_day(order)
    )
    await session.commit()
    return done


async def card_payment(session, order) -> CardPayment | None:
    return await repository.card_payment_of_order(session, order.id)


async def audit_actions(session, prefix="card_payment.") -> list[str]:
    result = await session.execute(
        select(AuditEvent.action)
        .where(AuditEvent.action.like(prefix + "%"))
        .order_by(AuditEvent.id)
    )
    return list(result.scalars())


async def count(session, model) -> int:
    return (await session.execute(select(func.count()).select_from(model))).scalar_one()


def later(order, minutes: int = 1) -> datetime:
    """A moment after the order was placed (the tests place in the future)."""
    return noon_before(order.delivery_on) + timedelta(minutes=minutes)
