"""Card co-payments follow the order: authorised when placed, captured when
owed, released when not, declined cards end DECLINED; each with the offline
gateway and with the real Stripe SDK against localstripe."""

from datetime import time, timedelta

import pytest
from sqlalchemy import update

from market.clock import local_instant
from market.db import utcnow
from market.municipalities.models import Municipality
from market.orders import service as orders
from market.orders.models import FailureReason, OrderStatus
from market.payments import service as payments
from market.payments.models import CardPayment
from market.payments.models import CardPaymentStatus as S
from tests.market.payments.conftest import (
    audit_actions,
    card_payment,
    count,
    days_ahead,
    deliver,
    later,
    on_the_day,
    place,
)
from tests.stripe_server import inject_faults


async def test_invoice_citizens_get_no_card_payment(session, kitchen, diner, pay):
    order = await place(session, kitchen, diner, days_ahead(3))
    assert await card_payment(session, order) is None
    run = await pay.run(session, later(order))
    assert run.authorized == 0 and await count(session, CardPayment) == 0


async def test_authorised_at_order_captured_at_delivery(session, kitchen, diner, pay):
    await pay.pay_by_card(session, diner)
    order = await place(session, kitchen, diner, days_ahead(3))
    payment = await card_payment(session, order)
    assert payment.status == S.AUTHORIZING and payment.amount_ore == 6000
    assert payment.idempotency_key == f"copay:{order.id}"

    run = await pay.run(session, later(order))
    payment = await card_payment(session, order)
    assert run.authorized == 1 and payment.status == S.AUTHORIZED
    assert payment.gateway_reference
    if pay.kind == "stripe":
        [intent] = pay.intents()
        assert (intent["id"], intent["status"]) == (payment.gateway_reference, "requires_capture")
        assert intent["amount"] == 6000 and intent["currency"] == "dkk"
    # Nothing is due until the order's outcome: another round calls nothing.
    assert (await pay.run(session, later(order, 2))).authorized == 0

    await deliver(session, kitchen, order)
    run = await pay.run(session, later(order, 3))
    payment = await card_payment(session, order)
    assert run.captured == 1 and payment.status == S.CAPTURED
    if pay.kind == "stripe":
        [intent] = pay.intents()
        assert intent["status"] == "succeeded"
    else:
        assert [op for op, _ in pay.money_moves()] == ["authorize", "capture"]
    assert await audit_actions(session) == ["card_payment.authorized", "card_payment.captured"]


async def test_an_order_far_ahead_is_authorised_six_days_before_delivery(
    session, kitchen, diner, pay
):
    """A card hold lasts about a week and is captured on the delivery day."""
    await pay.pay_by_card(session, diner)
    day = days_ahead(10)
    placed_at = local_instant(day - timedelta(days=10), time(9, 0))
    order = await place(session, kitchen, diner, day, now=placed_at)
    assert (await card_payment(session, order)).status == S.AUTHORIZING

    week_before = local_instant(day - timedelta(days=7), time(12, 0))
    assert (await pay.run(session, week_before)).authorized == 0
    assert (await card_payment(session, order)).status == S.AUTHORIZING

    six_days_before = local_instant(day - timedelta(days=6), time(0, 1))
    assert (await pay.run(session, six_days_before)).authorized == 1
    assert (await card_payment(session, order)).status == S.AUTHORIZED


async def test_a_far_order_cancelled_before_its_authorisation_never_reaches_the_card(
    session, kitchen, diner, pay
):
    await pay.pay_by_card(session, diner)
    day = days_ahead(10)
    placed_at = local_instant(day - timedelta(days=10), time(9, 0))
    order = await place(session, kitchen, diner, day, now=placed_at)
    await orders.cancel_order(
        session, actor=diner.me, order_id=order.id, now=placed_at + timedelta(hours=1)
    )
    await session.commit()
    # The cancellation makes the payment due at once (the real clock), long
    # before its authorisation would have gone out.
    run = await pay.run(session, utcnow() + timedelta(minutes=1))
    assert (await card_payment(session, order)).status == S.RELEASED
    assert run.authorized == 0
    if pay.kind == "stripe":
        assert pay.intents() == []
    else:
        assert pay.money_moves() == []


@pytest.mark.parametrize("ending", ["cancel_in_time", "reject", "expire", "provider_fault"])
async def test_released_when_nothing_is_owed(session, kitchen, diner, pay, settings, ending):
    await pay.pay_by_card(session, diner)
    day = days_ahead(3)
    order = await place(session, kitchen, diner, day)
    await pay.run(session, later(order))
    assert (await card_payment(session, order)).status == S.AUTHORIZED

    if ending == "cancel_in_time":
        await orders.cancel_order(session, actor=diner.me, order_id=order.id, now=later(order, 5))
    elif ending == "reject":
        await orders.reject_order(
            session, actor=kitchen.staff, order_id=order.id, reason="Køkkenet er lukket"
        )
    elif ending == "expire":
        assert await orders.expire_unaccepted(
            session, now=order.accept_by_at + timedelta(minutes=1)
        )
    else:
        await orders.accept_orders(session, actor=kitchen.staff, order_ids=[order.id])
        await orders.mark_out_for_delivery(
            session, actor=kitchen.staff, order_ids=[order.id], now=on_the_day(order)
        )
        await orders.mark_failed(
            session,
            actor=kitchen.staff,
            order_id=order.id,
            reason=FailureReason.NOT_DELIVERED,
            settings=settings,
            now=on_the_day(order),
        )
    run = await pay.run(session, order.accept_by_at + timedelta(minutes=2))
    payment = await card_payment(session, order)
    assert run.released == 1 and payment.status == S.RELEASED
    if pay.kind == "stripe":
        [intent] = pay.intents()
        assert intent["status"] == "canceled"
    assert await audit_actions(session) == ["card_payment.authorized", "card_payment.released"]


async def test_cancelled_before_the_authorisation_went_out_calls_nothing(
    session, kitchen, diner, pay
):
    await pay.pay_by_card(session, diner)
    order = await place(session, kitchen, diner, days_ahead(3))
    await orders.cancel_order(session, actor=diner.me, order_id=order.id, now=later(order))
    run = await pay.run(session, later(order, 2))
    assert run.released == 1 and (await card_payment(session, order)).status == S.RELEASED
    if pay.kind == "stripe":
        assert pay.intents() == []
    else:
        assert pay.money_moves() == []


async def test_late_cancellation_is_captured(session, kitchen, diner, pay):
    await pay.pay_by_card(session, diner)
    day = days_ahead(3)
    order = await place(session, kitchen, diner, day)
    await pay.run(session, later(order))
    late = local_instant(day, time(8, 0))
    done = await orders.cancel_order(session, actor=diner.me, order_id=order.id, now=late)
    assert done.status == OrderStatus.LATE_CANCELLED
    run = await pay.run(session, late + timedelta(minutes=1))
    assert run.captured == 1 and (await card_payment(session, order)).status == S.CAPTURED


@pytest.mark.parametrize("charge_when_absent", [False, True])
async def test_citizen_absent_follows_the_municipal_setting(
    session, kitchen, diner, pay, settings, charge_when_absent
):
    await session.execute(
        update(Municipality)
        .where(Municipality.id == diner.citizen.municipality_id)
        .values(charge_copayment_when_absent=charge_when_absent)
    )
    await pay.pay_by_card(session, diner)
    order = await place(session, kitchen, diner, days_ahead(3))
    await pay.run(session, later(order))
    await orders.accept_orders(session, actor=kitchen.staff, order_ids=[order.id])
    await orders.mark_out_for_delivery(
        session, actor=kitchen.staff, order_ids=[order.id], now=on_the_day(order)
    )
    await orders.mark_failed(
        session,
        actor=kitchen.staff,
        order_id=order.id,
        reason=FailureReason.CITIZEN_ABSENT,
        settings=settings,
        now=on_the_day(order),
    )
    await pay.run(session, later(order, 2))
    expected = S.CAPTURED if charge_when_absent else S.RELEASED
    assert (await card_payment(session, order)).status == expected


async def test_delivered_before_the_authorisation_went_out(session, kitchen, diner, pay):
    await pay.pay_by_card(session, diner)
    order = await place(session, kitchen, diner, days_ahead(3))
    await deliver(session, kitchen, order)
    run = await pay.run(session, later(order))
    payment = await card_payment(session, order)
    assert (run.authorized, run.captured) == (1, 1) and payment.status == S.CAPTURED
    if pay.kind == "stripe":
        [intent] = pay.intents()
        assert intent["status"] == "succeeded"


async def test_a_declined_card_ends_declined_and_delivery_changes_nothing(
    session, kitchen, diner, pay
):
    await pay.pay_by_card(session, diner, card="pm_card_chargeCustomerFail")
    order = await place(session, kitchen, diner, days_ahead(3))
    run = await pay.run(session, later(order))
    payment = await card_payment(session, order)
    assert run.declined == 1 and payment.status == S.DECLINED
    assert payment.last_error
    await deliver(session, kitchen, order)
    run = await pay.run(session, later(order, 2))
    payment = await card_payment(session, order)
    # The co-payment now goes on the monthly statement; the card is not tried again.
    assert payment.status == S.DECLINED and run.captured == 0
    assert await audit_actions(session) == ["card_payment.declined"]


async def test_the_same_order_placed_twice_has_one_card_payment(session, kitchen, diner, pay):
    await pay.pay_by_card(session, diner)
    day = days_ahead(3)
    first = await place(session, kitchen, diner, day)
    again = await place(session, kitchen, diner, day)
    assert first.id == again.id and await count(session, CardPayment) == 1


class Crash(Exception):
    pass


async def test_interrupted_after_the_call_moves_the_money_once(
    session, kitchen, diner, pay, monkeypatch
):
    """The worker dies between the gateway call and recording its result; the
    next round repeats the call under the same key and the gateway answers
    with the first result."""
    await pay.pay_by_card(session, diner)
    order = await place(session, kitchen, diner, days_ahead(3))
    real_finish = payments._finish
    crashes = []

    async def crash_once(*args, **kwargs):
        if not crashes:
            crashes.append(kwargs.get("reference"))
            raise Crash("killed between the call and the record")
        return await real_finish(*args, **kwargs)

    monkeypatch.setattr(payments, "_finish", crash_once)
    with pytest.raises(Crash):
        await pay.run(session, later(order))
    payment = await card_payment(session, order)
    assert payment.status == S.AUTHORIZING and payment.attempts == 1
    # Within the lease nobody repeats the call.
    assert (await pay.run(session, later(order, 2))).authorized == 0
    run = await pay.run(session, later(order, 10))
    payment = await card_payment(session, order)
    assert run.authorized == 1 and payment.gateway_reference == crashes[0]

    await deliver(session, kitchen, order)
    crashes.clear()
    with pytest.raises(Crash):
        await pay.run(session, later(order, 11))
    assert (await card_payment(session, order)).status == S.AUTHORIZED
    run = await pay.run(session, later(order, 20))
    assert run.captured == 1 and (await card_payment(session, order)).status == S.CAPTURED
    if pay.kind == "stripe":
        intents = pay.intents()
        assert [(i["id"], i["status"]) for i in intents] == [
            (payment.gateway_reference, "succeeded")
        ]
    else:
        assert [op for op, _ in pay.money_moves()] == ["authorize", "capture"]
    assert await audit_actions(session) == ["card_payment.authorized", "card_payment.captured"]


@pytest.mark.stripe
async def test_gateway_unavailable_is_retried_with_back_off(
    session, kitchen, diner, stripe_settings
):
    from market.payments.stripe_gateway import StripeGateway
    from tests.market.payments.conftest import Payments

    pay = Payments(
        "stripe", stripe_settings, StripeGateway(stripe_settings), stripe_settings.stripe_api_base
    )
    await pay.pay_by_card(session, diner)
    order = await place(session, kitchen, diner, days_ahead(3))
    inject_faults(pay.base, count=2, status=503, path="/v1/payment_intents")
    run = await pay.run(session, later(order))
    payment = await card_payment(session, order)
    assert run.retrying == 1 and payment.status == S.AUTHORIZING and payment.last_error
    assert payment.next_attempt_at == later(order) + timedelta(seconds=30)
    assert (await pay.run(session, later(order) + timedelta(seconds=29))).retrying == 0
    run = await pay.run(session, later(order) + timedelta(seconds=31))
    payment = await card_payment(session, order)
    assert run.retrying == 1 and payment.next_attempt_at == later(order) + timedelta(seconds=91)
    run = await pay.run(session, later(order) + timedelta(seconds=92))
    payment = await card_payment(session, order)
    assert run.authorized == 1 and payment.status == S.AUTHORIZED and payment.last_error is None
    assert len(pay.intents()) == 1


async def test_an_unforeseen_gateway_error_is_retried_and_stops_nothing_else(
    session, kitchen, diner, settings
):
    """One payment whose call blows up is retried later under the same key; the
    other due payments of the round still go through."""
    from market.payments.gateway import OfflineGateway
    from tests.market.payments.conftest import Payments

    class Flaky(OfflineGateway):
        async def authorize(self, **kwargs):
            if kwargs["metadata"]["order_id"] == str(first.id) and not self.calls:
                raise KeyError("unexpected answer")
            return await super().authorize(**kwargs)

    pay = Payments("offline", settings, Flaky(), None)
    await pay.pay_by_card(session, diner)
    first = await place(session, kitchen, diner, days_ahead(3), key="a")
    second = await place(session, kitchen, diner, days_ahead(4), key="b")
    run = await pay.run(session, later(second))
    assert (run.authorized, run.retrying) == (1, 1)
    stuck = await card_payment(session, first)
    assert stuck.status == S.AUTHORIZING and "KeyError" in stuck.last_error
    assert (await card_payment(session, second)).status == S.AUTHORIZED
    run = await pay.run(session, later(second, 10))
    assert run.authorized == 1 and (await card_payment(session, first)).status == S.AUTHORIZED
