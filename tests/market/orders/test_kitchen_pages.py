"""The kitchen board in the browser: bulk accept, reject with a reason, out for
delivery, delivered or failed, packing and route lists, and nobody else's orders."""

from sqlalchemy import select

from market.auth.models import Role
from market.orders import repository as order_repository
from market.orders import service
from market.orders.models import FailureReason, Order, OrderStatus, WelfareAlert
from tests.factories import login, make_provider, make_user, post_form
from tests.market.orders.conftest import days_ahead, noon_before
from vouchers import repository as voucher_repository
from vouchers.models import AccountKind
from vouchers.service import iso_week_of

STAFF = "kok@godekoekken.dk"


async def place(session, kitchen, diner, day, key):
    order = await service.place_order(
        session,
        actor=diner.me,
        citizen_id=None,
        offer_id=kitchen.offer.id,
        delivery_on=day,
        idempotency_key=key,
        now=noon_before(day),
    )
    await session.commit()
    return order.id  # objects expire when a refused request rolls back; ids do not


async def status_of(session, order_id):
    result = await session.execute(
        select(Order.status, Order.status_note).where(Order.id == order_id)
    )
    return tuple(result.one())


async def test_board_lists_new_orders_and_bulk_accept_accepts_the_selected(
    client, session, kitchen, diner
):
    day = days_ahead(3)
    orders = [await place(session, kitchen, diner, day, f"bulk-{n}") for n in range(3)]
    await login(client, STAFF)
    page = await client.get(f"/kitchen?day={day.isoformat()}")
    assert page.status_code == 200
    assert "Karen Jensen" in page.text and "Frikadeller med kartofler" in page.text
    assert (
        "Accept selected" in page.text and page.text.count('name="order_ids" value=') == 6
    )  # 3 boxes, 3 in accept-all
    response = await post_form(
        client,
        "/kitchen/accept",
        {"day": day.isoformat(), "order_ids": [str(orders[0]), str(orders[2])]},
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/kitchen?day={day.isoformat()}&done=accepted"
    assert (await status_of(session, orders[0]))[0] == OrderStatus.ACCEPTED
    assert (await status_of(session, orders[1]))[0] == OrderStatus.PLACED
    assert (await status_of(session, orders[2]))[0] == OrderStatus.ACCEPTED
    page = await client.get(response.headers["location"])
    assert "The selected orders are accepted." in page.text


async def test_reject_needs_a_reason_then_releases_the_unit_and_keeps_the_reason(
    client, session, kitchen, diner
):
    day = days_ahead(3)
    order = await place(session, kitchen, diner, day, "rej")
    week = iso_week_of(day)
    grant_id, citizen_id, approval_id = diner.grant.id, diner.citizen.id, kitchen.approval.id
    assert await voucher_repository.balance(session, grant_id, AccountKind.RESERVED, week) == 1
    await login(client, STAFF)
    url = f"/kitchen/orders/{order}/reject"
    refused = await post_form(client, url, {"day": day.isoformat(), "reason": "  "})
    assert refused.status_code == 422
    assert "Please give the citizen a reason for the rejection." in refused.text
    assert (await status_of(session, order))[0] == OrderStatus.PLACED
    done = await post_form(
        client, url, {"day": day.isoformat(), "reason": "Køkkenet er lukket pga. vandskade"}
    )
    assert done.status_code == 303
    assert await status_of(session, order) == (
        OrderStatus.REJECTED,
        "Køkkenet er lukket pga. vandskade",
    )
    assert await voucher_repository.balance(session, grant_id, AccountKind.RESERVED, week) == 0
    assert (
        await order_repository.capacity_used(session, scope=f"approval:{approval_id}", day=day) == 0
    )
    # The citizen's own order list carries the reason.
    [mine] = await order_repository.orders_of_citizen(session, citizen_id)
    assert mine.status_note == "Køkkenet er lukket pga. vandskade"


async def test_out_for_delivery_then_delivered_redeems(client, session, kitchen, diner):
    day = days_ahead(0)
    order = await place(session, kitchen, diner, day, "deliver")
    await login(client, STAFF)
    base = {"day": day.isoformat()}
    await post_form(client, "/kitchen/accept", {**base, "order_ids": [str(order)]})
    out = await post_form(client, "/kitchen/out-for-delivery", {**base, "order_ids": [order]})
    assert out.status_code == 303
    assert (await status_of(session, order))[0] == OrderStatus.OUT_FOR_DELIVERY
    page = await client.get(f"/kitchen?day={day.isoformat()}")
    assert f"Delivered: order {order}" in page.text
    done = await post_form(client, f"/kitchen/orders/{order}/delivered", base)
    assert done.status_code == 303
    assert (await status_of(session, order))[0] == OrderStatus.DELIVERED
    week = iso_week_of(day)
    assert (
        await voucher_repository.balance(session, diner.grant.id, AccountKind.REDEEMED, week) == 1
    )
    assert (
        await voucher_repository.balance(session, diner.grant.id, AccountKind.RESERVED, week) == 0
    )


async def test_a_move_out_of_order_is_a_409_sentence(client, session, kitchen, diner):
    day = days_ahead(3)
    order = await place(session, kitchen, diner, day, "early")
    await login(client, STAFF)
    response = await post_form(
        client, f"/kitchen/orders/{order}/delivered", {"day": day.isoformat()}
    )
    assert response.status_code == 409
    assert "An order that is placed cannot become delivered." in response.text
    assert (await status_of(session, order))[0] == OrderStatus.PLACED


async def test_failed_citizen_absent_raises_an_alert_in_the_queue(client, session, kitchen, diner):
    day = days_ahead(0)
    order = await place(session, kitchen, diner, day, "absent")
    await login(client, STAFF)
    base = {"day": day.isoformat()}
    await post_form(client, "/kitchen/accept", {**base, "order_ids": [order]})
    await post_form(client, "/kitchen/out-for-delivery", {**base, "order_ids": [order]})
    failed = await post_form(
        client,
        f"/kitchen/orders/{order}/failed",
        {
            **base,
            "reason": FailureReason.CITIZEN_ABSENT.value,
            "note": "Ingen lukkede op kl. 11.40",
        },
    )
    assert failed.status_code == 303
    alert = (await session.execute(select(WelfareAlert))).scalars().one()
    assert alert.order_id == order and alert.provider_note == "Ingen lukkede op kl. 11.40"
    await post_form(client, "/logout")
    client.cookies.clear()
    await login(client, "sagsbehandler@aarhus.dk")
    queue = await client.get("/alerts")
    assert queue.status_code == 200
    assert "Karen Jensen" in queue.text and "Ingen lukkede op kl. 11.40" in queue.text
    assert "1 open" in (await client.get("/")).text  # the badge in the menu


async def test_failed_needs_a_known_reason(client, session, kitchen, diner):
    day = days_ahead(3)
    order = await place(session, kitchen, diner, day, "why")
    await login(client, STAFF)
    response = await post_form(
        client, f"/kitchen/orders/{order}/failed", {"day": day.isoformat(), "reason": "x"}
    )
    assert response.status_code == 422
    assert "Please choose why the meal was not delivered." in response.text


async def test_another_providers_staff_sees_and_moves_nothing(client, session, kitchen, diner):
    day = days_ahead(3)
    order = await place(session, kitchen, diner, day, "other")
    rival = await make_provider(session, name="Konkurrenten ApS", cvr="20000008")
    await make_user(session, "kok@konkurrenten.dk", Role.PROVIDER_STAFF, provider_id=rival.id)
    await session.commit()
    await login(client, "kok@konkurrenten.dk")
    board = await client.get(f"/kitchen?day={day.isoformat()}")
    assert board.status_code == 200 and "Karen Jensen" not in board.text
    for url in (f"/kitchen/orders/{order}/reject", f"/kitchen/orders/{order}/delivered"):
        response = await post_form(client, url, {"day": day.isoformat(), "reason": "nej"})
        assert response.status_code == 404
        assert "That order does not exist, or is not yours to see." in response.text
    refused = await post_form(
        client, "/kitchen/accept", {"day": day.isoformat(), "order_ids": [order]}
    )
    assert refused.status_code == 404
    assert (await status_of(session, order))[0] == OrderStatus.PLACED
    assert "Karen Jensen" not in (await client.get(f"/kitchen/packing?day={day}")).text


async def test_packing_and_route_lists(client, session, kitchen, diner):
    day = days_ahead(3)
    diner.citizen.allergies = ["celery"]
    diner.citizen.phone = "+4587654321"
    await session.commit()
    orders = [await place(session, kitchen, diner, day, f"pack-{n}") for n in range(2)]
    await service.accept_orders(session, actor=kitchen.staff, order_ids=[orders[0]])
    await session.commit()
    await login(client, STAFF)
    packing = await client.get(f"/kitchen/packing?day={day.isoformat()}")
    assert packing.status_code == 200
    text = packing.text
    assert "Frikadeller med kartofler" in text
    assert "<td>1</td>" in text  # only the accepted order is packed
    assert "Cereals containing gluten" in text and "Celery" in text  # offer's, citizen's
    assert text.count('class="label"') == 1 and "Karen Jensen" in text
    route = await client.get(f"/kitchen/route?day={day.isoformat()}")
    assert route.status_code == 200
    assert "Postal code 8200" in route.text and "+4587654321" in route.text
    assert "11:00–13:00" in route.text


async def test_citizens_and_case_workers_cannot_open_the_kitchen(client, world):
    await login(client, "sagsbehandler@aarhus.dk")
    assert (await client.get("/kitchen")).status_code == 403
