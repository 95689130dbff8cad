"""The citizen's ordering pages: at most three steps from /order to a
confirmation, my orders, cancelling, rating; a proxy and a case worker ordering
for someone; every refusal is a 4xx page with a sentence that changes nothing."""

import re
from datetime import time, timedelta

from sqlalchemy import func, insert, select, update

from market.auth import service as auth_service
from market.auth.models import User
from market.auth.security import hash_password
from market.clock import local_instant
from market.orders import service
from market.orders.models import CapacityUse, Order, OrderEvent, OrderStatus, Rating
from providers import service as providers
from providers.models import Offer
from tests.factories import login, post_form
from tests.market.orders.conftest import days_ahead, late_cutoff, sign_in_citizen
from tests.vouchers.conftest import ledger_snapshot, make_citizen
from vouchers import repository as voucher_repository
from vouchers import service as vouchers
from vouchers.models import AccountKind


async def balance(session, grant, kind, day) -> int:
    return await voucher_repository.balance(session, grant.id, kind, vouchers.iso_week_of(day))


async def count_orders(session) -> int:
    return (await session.execute(select(func.count()).select_from(Order))).scalar_one()


def key_of(page: str) -> str:
    return re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)


async def test_citizen_orders_tomorrow_in_three_steps_sees_it_and_cancels(
    client, session, kitchen, diner, settings
):
    await late_cutoff(session, kitchen, settings)
    await sign_in_citizen(client, session, diner)
    tomorrow = days_ahead(1)

    start = await client.get("/order")  # 1
    assert start.status_code == 200
    assert f'href="/order/{tomorrow.isoformat()}"' in start.text
    assert "Tomorrow" in start.text and "Nothing ordered yet" in start.text

    menu = await client.get(f"/order/{tomorrow.isoformat()}")  # 2
    assert menu.status_code == 200
    assert "Frikadeller med kartofler" in menu.text and "Det Gode Køkken ApS" in menu.text
    assert "The meal costs 85.00 kr. The municipality pays 25.00 kr. You pay 60.00 kr." in menu.text
    assert "Milk" in menu.text and "Soft" in menu.text  # allergens and diet forms in words
    assert "No photo" in menu.text
    form = {"offer_id": str(kitchen.offer.id), "idempotency_key": key_of(menu.text)}
    placed = await post_form(client, f"/order/{tomorrow.isoformat()}", form)  # 3
    assert placed.status_code == 303
    order = (await session.execute(select(Order))).scalars().one()
    assert placed.headers["location"] == f"/orders/{order.id}?placed=1"

    confirmation = await client.get(placed.headers["location"])
    assert confirmation.status_code == 200
    text = confirmation.text
    assert "Thank you" in text and "Frikadeller med kartofler" in text
    assert "between 11:00 and 13:00" in text and "You pay 60.00 kr." in text
    assert "You can cancel for free until" in text and "at 23:59" in text
    assert await balance(session, diner.grant, AccountKind.RESERVED, tomorrow) == 1

    mine = await client.get("/orders")
    assert mine.status_code == 200 and f'id="order-{order.id}"' in mine.text
    assert "Ordered, waiting for the kitchen to confirm" in mine.text
    assert "✓ 1 meal ordered" in (await client.get("/order")).text

    question = await client.get(f"/orders/{order.id}/cancel")  # asks once, says it is free
    assert question.status_code == 200
    assert "Cancel the meal?" in question.text and "It is free." in question.text
    await session.refresh(order)
    assert order.status == OrderStatus.PLACED  # asking changes nothing
    cancelled = await post_form(client, f"/orders/{order.id}/cancel")
    assert cancelled.status_code == 303
    assert cancelled.headers["location"] == f"/orders/{order.id}?cancelled=1#cancel-done"
    told = await client.get(cancelled.headers["location"].split("#")[0])
    assert "The meal is cancelled. You do not pay for it." in told.text
    await session.refresh(order)
    assert order.status == OrderStatus.CANCELLED
    assert await balance(session, diner.grant, AccountKind.RESERVED, tomorrow) == 0
    assert await balance(session, diner.grant, AccountKind.AVAILABLE, tomorrow) == 7
    assert "Cancelled" in (await client.get("/orders")).text
    order_id = order.id
    again = await post_form(client, f"/orders/{order_id}/cancel")
    assert again.status_code == 409  # the order page again, with the sentence
    assert "An order that is cancelled cannot become cancelled." in again.text
    assert 'id="order-summary"' in again.text


async def test_refresh_and_double_tap_order_once(client, session, kitchen, diner):
    await sign_in_citizen(client, session, diner)
    day = days_ahead(3)
    menu = await client.get(f"/order/{day.isoformat()}")
    form = {"offer_id": str(kitchen.offer.id), "idempotency_key": key_of(menu.text)}
    first = await post_form(client, f"/order/{day.isoformat()}", form)
    second = await post_form(client, f"/order/{day.isoformat()}", form)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert await count_orders(session) == 1
    assert await balance(session, diner.grant, AccountKind.RESERVED, day) == 1
    # a reload of the menu gives a fresh key: a deliberate second order is possible
    assert key_of((await client.get(f"/order/{day.isoformat()}")).text) != form["idempotency_key"]


async def _refused(client, session, kitchen, day, sentence: str, status: int) -> None:
    before = await ledger_snapshot(session)
    url = f"/order/{day.isoformat()}"
    response = await post_form(
        client, url, {"offer_id": str(kitchen.offer.id), "idempotency_key": "the-key-1"}
    )
    assert response.status_code == status, response.text
    assert sentence in response.text
    assert 'role="alert"' in response.text and "<h1>Meals for" in response.text
    assert await count_orders(session) == 0
    assert await ledger_snapshot(session) == before


async def test_after_the_cut_off(client, session, kitchen, diner, settings):
    await providers.save_ordering_profile(
        session,
        actor=kitchen.admin,
        cutoff_days_before=3,
        cutoff_time=time(14, 0),
        window_start=time(11, 0),
        window_end=time(13, 0),
        accept_within_hours=4,
        auto_accept=False,
        webhook_url=None,
    )
    await session.commit()
    await sign_in_citizen(client, session, diner)
    await _refused(client, session, kitchen, days_ahead(2), "It is too late to order for", 409)


async def test_a_day_the_meal_is_not_offered(client, session, kitchen, diner):
    day = days_ahead(3)
    others = ",".join(str(d) for d in range(1, 8) if d != day.isoweekday())
    await session.execute(update(Offer).where(Offer.id == kitchen.offer.id).values(weekdays=others))
    await session.commit()
    await sign_in_citizen(client, session, diner)
    await _refused(client, session, kitchen, day, "This meal is not offered on", 422)


async def test_an_allergen(client, session, kitchen, diner):
    diner.citizen.allergies = ["milk"]
    await session.commit()
    await sign_in_citizen(client, session, diner)
    day = days_ahead(3)
    await _refused(client, session, kitchen, day, "This meal contains milk", 422)
    menu = await client.get(f"/order/{day.isoformat()}")
    assert "Frikadeller" not in menu.text and "no meals you can order" in menu.text


async def test_a_provider_outside_the_postal_code(client, session, kitchen, diner):
    diner.citizen.postal_code = "8220"
    await session.commit()
    await sign_in_citizen(client, session, diner)
    await _refused(
        client, session, kitchen, days_ahead(3), "does not deliver to postal code 8220", 422
    )


async def test_capacity_full(client, session, kitchen, diner):
    day = days_ahead(3)
    await session.execute(
        insert(CapacityUse).values(
            scope=f"approval:{kitchen.approval.id}", delivery_on=day, capacity=3, used=3
        )
    )
    await session.commit()
    await sign_in_citizen(client, session, diner)
    await _refused(client, session, kitchen, day, "fully booked", 409)


async def test_no_units_left(client, session, kitchen, diner):
    day = days_ahead(3)
    await vouchers.reserve(
        session,
        grant_id=diner.grant.id,
        delivery_on=day,
        units=7,
        idempotency_key="all-of-them",
        actor=diner.me,
    )
    await session.commit()
    await sign_in_citizen(client, session, diner)
    week = vouchers.week_number(vouchers.iso_week_of(day))
    await _refused(client, session, kitchen, day, f"No voucher units are left for week {week}", 409)


async def _proxy(session, world, settings, diner, email="mette@example.dk"):
    case_worker = auth_service.actor_for(world.user("case_worker"))
    linked = await vouchers.link_proxy(
        session,
        actor=case_worker,
        settings=settings,
        citizen_id=diner.citizen.id,
        full_name="Mette Jensen",
        email=email,
    )
    await session.execute(
        update(User)
        .where(User.id == linked.user.id)
        .values(password_hash=hash_password("p-1234567890"))
    )
    await session.commit()
    return linked.user


async def test_proxy_orders_on_behalf_of_the_citizen(
    client, session, world, settings, kitchen, diner
):
    proxy = await _proxy(session, world, settings, diner)
    await login(client, proxy.email, "p-1234567890")
    start = await client.get("/order")
    assert start.status_code == 200
    day = days_ahead(3)
    base = f"/citizens/{diner.citizen.id}"
    assert f'href="{base}/order/{day.isoformat()}"' in start.text
    assert "You are ordering for Karen Jensen" in start.text
    menu = await client.get(f"{base}/order/{day.isoformat()}")
    placed = await post_form(
        client,
        f"{base}/order/{day.isoformat()}",
        {"offer_id": str(kitchen.offer.id), "idempotency_key": key_of(menu.text)},
    )
    assert placed.status_code == 303
    order = (await session.execute(select(Order))).scalars().one()
    assert (order.placed_by_user_id, order.on_behalf_of_user_id) == (
        proxy.id,
        diner.citizen.user_id,
    )
    event = (await session.execute(select(OrderEvent))).scalars().first()
    assert (event.actor_user_id, event.on_behalf_of_user_id) == (proxy.id, diner.citizen.user_id)
    assert (await client.get(placed.headers["location"])).status_code == 200
    listing = await client.get(f"{base}/orders")
    assert "Orders of Karen Jensen" in listing.text and f'id="order-{order.id}"' in listing.text
    cancelled = await post_form(client, f"/orders/{order.id}/cancel")
    assert cancelled.headers["location"].startswith(f"/orders/{order.id}?cancelled=1")


async def test_proxy_with_two_citizens_chooses_first(
    client, session, world, settings, kitchen, diner
):
    proxy = await _proxy(session, world, settings, diner)
    case_worker = auth_service.actor_for(world.user("case_worker"))
    other = await make_citizen(session, case_worker, cpr="020240-1234", name="Poul Jensen")
    await vouchers.link_proxy(
        session,
        actor=case_worker,
        settings=settings,
        citizen_id=other.id,
        full_name="Mette Jensen",
        email=proxy.email,
    )
    await session.commit()
    await login(client, proxy.email, "p-1234567890")
    start = await client.get("/order")
    assert "Who are you ordering for?" in start.text
    assert f'href="/citizens/{diner.citizen.id}/order"' in start.text
    assert f'href="/citizens/{other.id}/order"' in start.text
    stranger = await make_citizen(session, case_worker, cpr="030340-1234", name="Fremmed")
    await session.commit()
    refused = await client.get(f"/citizens/{stranger.id}/order")
    assert refused.status_code == 404


async def test_case_worker_orders_by_phone_from_the_citizen_record(
    client, session, world, kitchen, diner
):
    await login(client, "sagsbehandler@aarhus.dk")
    base = f"/citizens/{diner.citizen.id}"
    record = await client.get(base)
    assert f'href="{base}/order"' in record.text
    day = days_ahead(3)
    menu = await client.get(f"{base}/order/{day.isoformat()}")
    assert menu.status_code == 200 and "You are ordering for Karen Jensen" in menu.text
    placed = await post_form(
        client,
        f"{base}/order/{day.isoformat()}",
        {"offer_id": str(kitchen.offer.id), "idempotency_key": key_of(menu.text)},
    )
    assert placed.status_code == 303
    order = (await session.execute(select(Order))).scalars().one()
    assert order.placed_by_user_id == world.user("case_worker").id
    assert order.on_behalf_of_user_id == diner.citizen.user_id
    # a case worker must say whom: /order alone is refused with a sentence
    assert (await client.get("/order")).status_code == 422


async def test_rating_a_delivered_meal(client, session, kitchen, diner):
    day = days_ahead(3)
    order = await service.place_order(
        session,
        actor=diner.me,
        citizen_id=None,
        offer_id=kitchen.offer.id,
        delivery_on=day,
        idempotency_key="rate-me",
    )
    await service.accept_orders(session, actor=kitchen.staff, order_ids=[order.id])
    on_the_day = local_instant(day, time(12, 0))
    await service.mark_out_for_delivery(
        session, actor=kitchen.staff, order_ids=[order.id], now=on_the_day
    )
    await service.mark_delivered(session, actor=kitchen.staff, order_id=order.id, now=on_the_day)
    await session.commit()
    await sign_in_citizen(client, session, diner)
    page = await client.get("/orders")
    # one meal at a time: the list links to the meal, whose page has the one form
    assert f'href="/orders/{order.id}#rating-form"' in page.text
    assert 'name="stars"' not in page.text
    one = await client.get(f"/orders/{order.id}")
    assert 'id="rating-form"' in one.text and 'name="stars" value="5" id="stars-5"' in one.text
    order_id = order.id
    no_stars = await post_form(client, f"/orders/{order_id}/rating", {"comment": "Godt"})
    assert no_stars.status_code == 422 and "Give between 1 and 5 stars." in no_stars.text
    assert 'id="rating-form"' in no_stars.text  # the meal's page again, not a bare error page
    rated = await post_form(
        client, f"/orders/{order_id}/rating", {"stars": "4", "comment": "Godt", "next": "/orders"}
    )
    assert rated.status_code == 303
    rating = (await session.execute(select(Rating))).scalars().one()
    assert (rating.stars, rating.comment) == (4, "Godt")
    assert "4 stars" in (await client.get("/orders")).text


async def test_the_same_meal_on_more_days_and_every_week(client, session, kitchen, diner):
    offer_id = str(kitchen.offer.id)  # objects expire when a refused request rolls back
    await sign_in_citizen(client, session, diner)
    day = days_ahead(2)
    menu = await client.get(f"/order/{day.isoformat()}")
    placed = await post_form(
        client,
        f"/order/{day.isoformat()}",
        {"offer_id": offer_id, "idempotency_key": key_of(menu.text)},
    )
    page = await client.get(placed.headers["location"])
    more = [(day + timedelta(days=1)).isoformat(), (day + timedelta(days=2)).isoformat()]
    form = {"days": more, "idempotency_key": key_of(page.text)}
    first = await post_form(client, placed.headers["location"].split("?")[0] + "/repeat", form)
    again = await post_form(client, placed.headers["location"].split("?")[0] + "/repeat", form)
    assert first.status_code == again.status_code == 303
    assert await count_orders(session) == 3
    assert 'name="weekdays"' in page.text and " checked" not in page.text  # nothing pre-ticked
    order_id = int(placed.headers["location"].split("/")[2].split("?")[0])
    none_chosen = await post_form(
        client,
        "/standing-orders",
        {"offer_id": offer_id, "order_id": str(order_id)},
    )
    assert none_chosen.status_code == 422 and "Choose at least one weekday." in none_chosen.text
    assert 'id="order-summary"' in none_chosen.text
    weekly = await post_form(
        client,
        "/standing-orders",
        {"offer_id": offer_id, "weekdays": ["1", "2", "3", "4", "5"]},
    )
    assert weekly.status_code == 303
    listing = await client.get("/orders")
    assert "Monday, Tuesday, Wednesday, Thursday, Friday" in listing.text


async def test_a_day_that_does_not_exist_and_tomorrow_after_the_cut_off(
    client, session, kitchen, diner
):
    await sign_in_citizen(client, session, diner)
    wrong = await client.get("/order/2026-02-30")
    assert wrong.status_code == 422
    assert "2026-02-30 is not a date. Write it as 2026-12-24." in wrong.text
    assert "Input should be" not in wrong.text
    client.cookies.set("market_lang", "da")
    danish = await client.get("/order/2026-02-30")
    assert danish.status_code == 422
    assert "2026-02-30 er ikke en dato. Skriv den sådan: 2026-12-24." in danish.text


async def test_after_the_cut_off_the_page_says_when_it_was_and_offers_the_next_day(
    client, session, kitchen, diner
):
    from market.clock import local_instant

    await sign_in_citizen(client, session, diner)
    tomorrow = days_ahead(1)
    now = local_instant(tomorrow - timedelta(days=1), time(15, 0))
    view = await service.catalogue(
        session, actor=diner.me, citizen_id=None, delivery_on=tomorrow, now=now
    )
    assert view.entries == [] and view.closed_at is not None
    assert view.closed_at == local_instant(tomorrow - timedelta(days=1), time(14, 0))
    assert view.next_open_on == days_ahead(2)
    start = await service.ordering_start(session, actor=diner.me, citizen_id=None, now=now)
    assert start.days[0].closed_at == view.closed_at and start.days[1].closed_at is None


async def test_every_citizen_page_says_whom_to_call(client, session, kitchen, diner):
    from market.municipalities.models import Municipality

    municipality = await session.get(Municipality, diner.citizen.municipality_id)
    municipality.contact_phone = "+45 89 40 20 00"
    municipality.opening_hours = "on weekdays 8–15"
    order = await service.place_order(
        session,
        actor=diner.me,
        citizen_id=None,
        offer_id=kitchen.offer.id,
        delivery_on=days_ahead(3),
        idempotency_key="help-me",
    )
    order_id = order.id
    await session.commit()
    await sign_in_citizen(client, session, diner)
    for path in (
        "/order",
        f"/order/{days_ahead(3).isoformat()}",
        "/orders",
        f"/orders/{order_id}",
        f"/orders/{order_id}/cancel",
        "/pause",
    ):
        page = await client.get(path)
        assert page.status_code == 200, path
        assert 'href="tel:+4589402000"' in page.text, path
        assert "Open on weekdays 8–15." in page.text, path
    one = await client.get(f"/orders/{order_id}")
    assert "Questions about the meal? Call Det Gode Køkken ApS on" in one.text
