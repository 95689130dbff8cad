"""The driver's page: the route in stop order, one tap per stop recorded once
by its key, a welfare note for the case worker, acknowledged like an alert."""

from datetime import date

import pytest
from sqlalchemy import func, select

from market.auth import service as auth_service
from market.db import utcnow
from market.errors import InvalidInput
from market.orders import service
from market.orders.alerts import service as alerts
from market.orders.fulfilment import driver
from market.orders.models import (
    AlertStatus,
    DriverTap,
    FailureReason,
    OrderStatus,
    WelfareAlert,
    WelfareNote,
)
from tests.factories import login, post_form
from tests.market.orders.conftest import days_ahead, noon_before, on_the_day

STAFF = "kok@godekoekken.dk"


async def accepted_orders(session, kitchen, diner, day: date, n: int) -> list[int]:
    ids = []
    for i in range(n):
        order = await service.place_order(
            session,
            actor=diner.me,
            citizen_id=None,
            offer_id=kitchen.offer.id,
            delivery_on=day,
            idempotency_key=f"drive-{day}-{i}",
            now=noon_before(day),
        )
        ids.append(order.id)
    await service.accept_orders(session, actor=kitchen.staff, order_ids=ids)
    return ids


async def count(session, model) -> int:
    return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_a_tap_is_recorded_once_and_an_observation_becomes_a_note(
    session, world, kitchen, diner, settings
):
    day = days_ahead(2)
    ids = await accepted_orders(session, kitchen, diner, day, 3)
    route = await driver.route(session, actor=kitchen.staff, day=day)
    assert [s.line.order.id for s in route.stops] == ids and route.left == 3

    async def tap(order_id, outcome, key, observations=(), text=""):
        return await driver.record_stop(
            session,
            actor=kitchen.staff,
            order_id=order_id,
            outcome=outcome,
            idempotency_key=key,
            observations=list(observations),
            text=text,
            settings=settings,
            now=on_the_day(day),
        )

    first = await tap(ids[0], "delivered", "tap-1", ["confused", "meal_untouched"], "Glemte mig")
    again = await tap(ids[0], "delivered", "tap-1", ["confused", "meal_untouched"], "Glemte mig")
    assert first.order.status == OrderStatus.DELIVERED and not first.replayed
    assert again.replayed and again.note_id == first.note_id
    assert await count(session, DriverTap) == 1 and await count(session, WelfareNote) == 1
    note = await session.get(WelfareNote, first.note_id)
    assert note.observations == "confused,meal_untouched" and note.text == "Glemte mig"
    assert note.status == AlertStatus.OPEN and note.citizen_id == diner.citizen.id
    # a second press with another key (a fresh page) records nothing new
    twice = await tap(ids[0], "delivered", "tap-1b")
    assert twice.order.status == OrderStatus.DELIVERED

    absent = await tap(ids[1], "not_at_home", "tap-2")
    assert absent.order.failure_reason == FailureReason.CITIZEN_ABSENT
    assert await count(session, WelfareAlert) == 1  # the alarm, as on the kitchen board
    refused = await tap(ids[2], "refused", "tap-3")
    assert refused.order.failure_reason == FailureReason.NOT_DELIVERED
    assert await count(session, WelfareAlert) == 1  # a refusal raises no alarm
    assert (await driver.route(session, actor=kitchen.staff, day=day)).left == 0

    with pytest.raises(InvalidInput):
        await tap(ids[2], "maybe", "tap-4")
    with pytest.raises(InvalidInput, match="not on the list"):
        await tap(ids[2], "refused", "tap-5", ["hungry"])

    case_worker = auth_service.actor_for(world.user("case_worker"))
    [entry] = await alerts.open_notes(session, actor=case_worker)
    assert entry.seen_by == "driver"  # the case worker reads who was at the door
    with pytest.raises(InvalidInput):
        await alerts.acknowledge_note(session, actor=case_worker, note_id=note.id, reply=" ")
    done = await alerts.acknowledge_note(
        session, actor=case_worker, note_id=note.id, reply="Ringede til datteren."
    )
    assert done.status == AlertStatus.ACKNOWLEDGED
    assert done.acknowledged_by_user_id == case_worker.user_id
    assert await alerts.open_notes(session, actor=case_worker) == []


async def test_the_page_works_without_javascript_and_answers_the_script_in_json(
    client, session, world, kitchen, diner
):
    today = service.today_of(utcnow())
    ids = await accepted_orders(session, kitchen, diner, days_ahead(1), 1)
    # the route is today's: move the order to today as the kitchen would see it
    from sqlalchemy import update

    from market.orders.models import Order

    await session.execute(update(Order).where(Order.id == ids[0]).values(delivery_on=today))
    await session.commit()
    await login(client, STAFF)
    page = await client.get("/driver")
    assert page.status_code == 200
    assert "Stop 1" in page.text and "Karen Jensen" in page.text
    assert 'name="outcome" value="delivered"' in page.text
    assert "checked" not in page.text  # no observation ticked beforehand
    key = page.text.split('name="idempotency_key" value="')[1].split('"')[0]
    posted = await post_form(
        client,
        f"/driver/stops/{ids[0]}",
        {"outcome": "delivered", "idempotency_key": key, "stop": "1", "observations": "fall"},
    )
    assert posted.status_code == 303 and posted.headers["location"].startswith(
        "/driver?done=delivered:1"
    )
    followed = await client.get(posted.headers["location"])
    assert "Stop 1: delivered." in followed.text
    assert await count(session, WelfareNote) == 1

    replay = await client.post(
        f"/driver/stops/{ids[0]}",
        data={
            "outcome": "delivered",
            "idempotency_key": key,
            "stop": "1",
            "csrf_token": client.cookies.get("market_csrf", ""),
        },
        headers={"Accept": "application/json"},
    )
    assert replay.status_code == 200
    assert replay.json()["ok"] is True and replay.json()["replayed"] is True
    assert await count(session, WelfareNote) == 1
    wrong = await client.post(
        f"/driver/stops/{ids[0]}",
        data={
            "outcome": "sideways",
            "idempotency_key": "another",
            "csrf_token": client.cookies.get("market_csrf", ""),
        },
        headers={"Accept": "application/json"},
    )
    assert wrong.status_code == 422 and wrong.json()["ok"] is False
    assert "delivered, not at home or refused" in wrong.json()["error"]


async def test_a_tap_takes_a_key_of_the_full_length_and_refuses_a_longer_one(
    session, kitchen, diner, settings
):
    day = days_ahead(2)
    [order_id] = await accepted_orders(session, kitchen, diner, day, 1)

    async def tap(key):
        return await driver.record_stop(
            session,
            actor=kitchen.staff,
            order_id=order_id,
            outcome="delivered",
            idempotency_key=key,
            observations=["confused"],
            text="",
            settings=settings,
            now=on_the_day(day),
        )

    with pytest.raises(InvalidInput, match="1 to 200 characters"):
        await tap("t" * 201)
    first = await tap("t" * 200)  # its note's key is derived from it and must fit too
    assert first.order.status == OrderStatus.DELIVERED and first.note_id is not None
    again = await tap("t" * 200)
    assert again.replayed and again.note_id == first.note_id
