"""The packing list and the route list hold the same orders; paused customers
are on the board and both lists; no failure reason is chosen beforehand."""

import re

from market.auth import service as auth_service
from market.orders import service
from market.orders.fulfilment import pauses
from market.orders.models import FailureReason
from tests.factories import login
from tests.market.orders.conftest import days_ahead, noon_before, on_the_day

STAFF = "kok@godekoekken.dk"


async def test_packing_and_route_lists_hold_the_same_orders_in_every_state(
    session, world, kitchen, diner, settings
):
    day = days_ahead(3)
    ids = []
    for n in range(3):
        order = await service.place_order(
            session,
            actor=diner.me,
            citizen_id=None,
            offer_id=kitchen.offer.id,
            delivery_on=day,
            idempotency_key=f"lists-{n}",
            now=noon_before(day),
        )
        ids.append(order.id)

    async def both() -> tuple[set[int], set[int]]:
        board = await service.kitchen_board(session, actor=kitchen.staff, day=day)
        packed = {line.order.id for g in service.packing_groups(board) for line in g.lines}
        routed = {line.order.id for _, lines in service.route_groups(board) for line in lines}
        return packed, routed

    assert await both() == (set(), set())  # nothing accepted yet: nothing to cook or drive
    await service.accept_orders(session, actor=kitchen.staff, order_ids=ids)
    assert await both() == (set(ids), set(ids))
    now = on_the_day(day)
    await service.mark_out_for_delivery(session, actor=kitchen.staff, order_ids=ids, now=now)
    await service.mark_delivered(session, actor=kitchen.staff, order_id=ids[0], now=now)
    await service.mark_failed(
        session,
        actor=kitchen.staff,
        order_id=ids[1],
        reason=FailureReason.WRONG_MEAL,
        settings=settings,
        now=now,
    )
    # delivered and failed meals stay on both lists (they were cooked and driven)
    assert await both() == (set(ids), set(ids))


async def test_paused_customers_show_and_no_failure_reason_is_preselected(
    client, session, world, kitchen, diner
):
    day = days_ahead(3)
    order = await service.place_order(
        session,
        actor=diner.me,
        citizen_id=None,
        offer_id=kitchen.offer.id,
        delivery_on=days_ahead(2),
        idempotency_key="a-customer",
    )
    await service.accept_orders(session, actor=kitchen.staff, order_ids=[order.id])
    await service.mark_out_for_delivery(
        session, actor=kitchen.staff, order_ids=[order.id], now=on_the_day(days_ahead(2))
    )
    case_worker = auth_service.actor_for(world.user("case_worker"))
    await pauses.register_pause(
        session,
        actor=case_worker,
        citizen_id=diner.citizen.id,
        reason="hospital",
        starts_on=day,
        resumes_on=days_ahead(9),
    )
    await session.commit()
    await login(client, STAFF)
    for path in ("/kitchen", "/kitchen/packing", "/kitchen/route"):
        page = await client.get(f"{path}?day={day.isoformat()}")
        assert page.status_code == 200
        assert "Paused: no meals this day (1)" in page.text, path
        assert "Karen Jensen" in page.text and "Hospital stay" in page.text
    # the day before the pause, Karen is not paused, and her meal is out
    board = await client.get(f"/kitchen?day={days_ahead(2).isoformat()}")
    assert "Paused: no meals this day" not in board.text
    select_ = re.search(r'<select id="fail-reason-\d+".*?</select>', board.text, re.S).group(0)
    selected = re.findall(r'<option value="([^"]*)" selected', select_)
    assert selected == [""]
    assert 'value="citizen_absent" selected' not in select_
