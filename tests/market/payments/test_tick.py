"""`market tick` brings card payments along: standing orders placed for a card
payer are authorised in the same round (those up to six days ahead), through
the configured gateway."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from market import tick
from market.clock import today
from market.orders.models import Order, StandingOrder
from market.payments import service as payments
from market.payments.models import CardPayment, CardPaymentStatus
from tests.market.payments.conftest import Payments


async def test_a_tick_authorises_the_card_payments_of_new_orders(session, settings, kitchen, diner):
    await Payments("offline", settings, payments.get_gateway(settings), None).pay_by_card(
        session, diner
    )
    session.add(
        StandingOrder(
            citizen_id=diner.citizen.id,
            offer_id=kitchen.offer.id,
            weekdays="1,2,3,4,5,6,7",
            created_by_user_id=diner.citizen.user_id,
        )
    )
    await session.commit()
    sessions = async_sessionmaker(
        bind=session.bind, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    report = await tick.run_once(settings, sessions)
    placed = report["standing_orders"]["placed"]
    assert placed in (6, 7)
    rows = (
        await session.execute(
            select(Order.delivery_on, CardPayment.status).join(
                CardPayment, CardPayment.order_id == Order.id
            )
        )
    ).all()
    assert len(rows) == placed
    # Up to six days ahead the hold is taken now; further ahead it waits, so
    # the about-a-week hold still stands on the delivery day.
    near = [s for day, s in rows if (day - today()).days <= payments.AUTHORIZE_DAYS_BEFORE_DELIVERY]
    far = [s for day, s in rows if (day - today()).days > payments.AUTHORIZE_DAYS_BEFORE_DELIVERY]
    assert near and near == [CardPaymentStatus.AUTHORIZED] * len(near)
    assert far == [CardPaymentStatus.AUTHORIZING] * len(far)
    assert report["card_payments"]["authorized"] == len(near)
