"""`market tick` brings card payments along: standing orders placed for a card
payer are authorised in the same round, through the configured gateway."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from market import tick
from market.orders.models import StandingOrder
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
    assert report["card_payments"]["authorized"] == placed
    statuses = (await session.execute(select(CardPayment.status))).scalars().all()
    assert statuses == [CardPaymentStatus.AUTHORIZED] * placed
