"""Who may order for whom, now that placement reads the citizen, the proxy's
link and the grant in one statement: the rule is still vouchers' (a citizen for
themself, a proxy for the citizens linked to them now, staff in their
municipality), and a refusal writes nothing."""

import pytest
from sqlalchemy import func, select

from market.auth import service as auth_service
from market.errors import AppError
from market.orders import service
from market.orders.models import Order
from tests.market.orders.conftest import days_ahead, noon_before
from vouchers import service as vouchers
from vouchers.exceptions import BadInput, CitizenNotFound, NotYourCitizen


async def _orders(session) -> int:
    return (await session.execute(select(func.count()).select_from(Order))).scalar_one()


async def _place(session, actor, kitchen, citizen_id, key):
    day = days_ahead(3)
    return await service.place_order(
        session,
        actor=actor,
        citizen_id=citizen_id,
        offer_id=kitchen.offer.id,
        delivery_on=day,
        idempotency_key=key,
        now=noon_before(day),
    )


async def _proxy(session, world, settings, diner):
    case_worker = auth_service.actor_for(world.user("case_worker"))
    linked = await vouchers.link_proxy(
        session,
        actor=case_worker,
        settings=settings,
        citizen_id=diner.citizen.id,
        full_name="Mette Jensen",
        email="mette@example.dk",
    )
    return case_worker, linked


async def test_a_linked_proxy_orders_for_the_citizen_and_is_recorded(
    session, world, settings, kitchen, diner
):
    _, linked = await _proxy(session, world, settings, diner)
    proxy = auth_service.actor_for(linked.user)
    order = await _place(session, proxy, kitchen, diner.citizen.id, "by-proxy")
    assert order.citizen_id == diner.citizen.id
    assert (order.placed_by_user_id, order.on_behalf_of_user_id) == (
        linked.user.id,
        diner.citizen.user_id,
    )


async def test_a_proxy_no_longer_linked_may_not_order(session, world, settings, kitchen, diner):
    case_worker, linked = await _proxy(session, world, settings, diner)
    await vouchers.unlink_proxy(
        session, actor=case_worker, citizen_id=diner.citizen.id, link_id=linked.link.id
    )
    proxy = auth_service.actor_for(linked.user)
    with pytest.raises(NotYourCitizen):
        await _place(session, proxy, kitchen, diner.citizen.id, "unlinked")
    assert await _orders(session) == 0


@pytest.mark.parametrize("who", ["citizen for another", "staff without naming"])
async def test_others_are_refused_and_nothing_is_written(session, world, kitchen, diner, who):
    if who == "citizen for another":
        refusal: type[AppError] = CitizenNotFound
        actor, citizen_id = diner.me, diner.citizen.id + 1000
    else:
        refusal = BadInput
        actor, citizen_id = auth_service.actor_for(world.user("case_worker")), None
    with pytest.raises(refusal):
        await _place(session, actor, kitchen, citizen_id, who)
    assert await _orders(session) == 0


async def test_a_case_worker_orders_for_a_citizen_of_the_municipality(
    session, world, kitchen, diner
):
    case_worker = auth_service.actor_for(world.user("case_worker"))
    order = await _place(session, case_worker, kitchen, diner.citizen.id, "by-staff")
    assert order.on_behalf_of_user_id == diner.citizen.user_id
