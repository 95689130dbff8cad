"""The ordering JSON API under /api/v1: catalogue, orders with a required
Idempotency-Key, cancel, rating and standing orders."""

from datetime import time

from sqlalchemy import func, select

from market.clock import local_instant
from market.orders import service
from market.orders.models import Order
from tests.factories import api_headers
from tests.market.orders.conftest import days_ahead, sign_in_citizen
from vouchers import repository as voucher_repository
from vouchers.models import AccountKind
from vouchers.service import iso_week_of


async def reserved(session, grant_id, day) -> int:
    return await voucher_repository.balance(
        session, grant_id, AccountKind.RESERVED, iso_week_of(day)
    )


async def test_catalogue_shows_the_price_split(client, session, kitchen, diner):
    await sign_in_citizen(client, session, diner)
    day = days_ahead(3)
    response = await client.get("/api/v1/catalogue", params={"day": day.isoformat()})
    assert response.status_code == 200
    body = response.json()
    assert body["has_voucher"] is True and body["citizen_id"] == diner.citizen.id
    [entry] = body["entries"]
    assert entry["offer_id"] == kitchen.offer.id and entry["photo_url"] is None
    assert (entry["unit_price_ore"], entry["municipality_pays_ore"], entry["copayment_ore"]) == (
        8500,
        2500,
        6000,
    )


async def test_the_same_key_returns_the_same_order_and_reserves_once(
    client, session, kitchen, diner
):
    grant_id = diner.grant.id
    await sign_in_citizen(client, session, diner)
    day = days_ahead(3)
    body = {"offer_id": kitchen.offer.id, "delivery_on": day.isoformat()}
    missing = await client.post("/api/v1/orders", json=body, headers=api_headers(client))
    assert missing.status_code == 422 and missing.json()["error"] == "invalid_input"
    headers = {**api_headers(client), "Idempotency-Key": "api-key-1"}
    first = await client.post("/api/v1/orders", json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = await client.post("/api/v1/orders", json=body, headers=headers)
    assert again.status_code == 200 and again.json() == first.json()
    order = first.json()
    assert order["status"] == "placed" and order["copayment_ore"] == 6000
    assert order["municipality_pays_ore"] == 2500 and order["on_behalf_of_user_id"] is None
    assert (await session.execute(select(func.count()).select_from(Order))).scalar_one() == 1
    assert await reserved(session, grant_id, day) == 1

    mine = await client.get("/api/v1/orders")
    assert [o["id"] for o in mine.json()] == [order["id"]]
    one = await client.get(f"/api/v1/orders/{order['id']}")
    assert one.status_code == 200 and one.json()["id"] == order["id"]
    cancelled = await client.post(
        f"/api/v1/orders/{order['id']}/cancel", headers=api_headers(client)
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert await reserved(session, grant_id, day) == 0
    twice = await client.post(f"/api/v1/orders/{order['id']}/cancel", headers=api_headers(client))
    assert twice.status_code == 409 and "cannot become" in twice.json()["detail"]


async def test_refusals_are_json_sentences_and_store_nothing(client, session, kitchen, diner):
    grant_id = diner.grant.id
    diner.citizen.allergies = ["milk"]
    await session.commit()
    await sign_in_citizen(client, session, diner)
    day = days_ahead(3)
    refused = await client.post(
        "/api/v1/orders",
        json={"offer_id": kitchen.offer.id, "delivery_on": day.isoformat()},
        headers={**api_headers(client), "Idempotency-Key": "k"},
    )
    assert refused.status_code == 422
    assert refused.json() == {
        "error": "invalid_input",
        "detail": "This meal contains milk, which the citizen must not have.",
    }
    assert (await session.execute(select(func.count()).select_from(Order))).scalar_one() == 0
    assert await reserved(session, grant_id, day) == 0
    other = await client.get(f"/api/v1/orders/{10**6}")
    assert other.status_code == 404


async def test_rating_a_delivered_order(client, session, kitchen, diner):
    placed = await service.place_order(
        session,
        actor=diner.me,
        citizen_id=None,
        offer_id=kitchen.offer.id,
        delivery_on=days_ahead(3),
        idempotency_key="to-rate",
    )
    order_id = placed.id  # the objects expire when a refused request rolls back
    await session.commit()
    await sign_in_citizen(client, session, diner)
    url = f"/api/v1/orders/{order_id}/rating"
    early = await client.post(url, json={"stars": 5}, headers=api_headers(client))
    assert early.status_code == 422 and "Only a delivered meal" in early.json()["detail"]
    await service.accept_orders(session, actor=kitchen.staff, order_ids=[order_id])
    on_the_day = local_instant(days_ahead(3), time(12, 0))
    await service.mark_out_for_delivery(
        session, actor=kitchen.staff, order_ids=[order_id], now=on_the_day
    )
    await service.mark_delivered(session, actor=kitchen.staff, order_id=order_id, now=on_the_day)
    await session.commit()
    bad = await client.post(url, json={"stars": 6}, headers=api_headers(client))
    assert bad.status_code == 422
    rated = await client.post(
        url, json={"stars": 5, "comment": "Som hos mor"}, headers=api_headers(client)
    )
    assert rated.status_code == 201 and rated.json()["stars"] == 5
    again = await client.post(url, json={"stars": 4}, headers=api_headers(client))
    assert again.status_code == 409


async def test_standing_orders_crud(client, session, kitchen, diner):
    offer_id = kitchen.offer.id  # the objects expire when a refused request rolls back
    await sign_in_citizen(client, session, diner)
    created = await client.post(
        "/api/v1/standing-orders",
        json={"offer_id": offer_id, "weekdays": [1, 2, 3, 4, 5]},
        headers=api_headers(client),
    )
    assert created.status_code == 201, created.text
    standing = created.json()
    assert standing["weekdays"] == [1, 2, 3, 4, 5] and standing["active"] is True
    assert standing["created_by_user_id"] == diner.citizen.user_id
    assert standing["placed_through_on"] is not None  # placed ahead at once
    listed = await client.get("/api/v1/standing-orders")
    assert [s["id"] for s in listed.json()] == [standing["id"]]
    changed = await client.patch(
        f"/api/v1/standing-orders/{standing['id']}",
        json={"weekdays": [1, 3]},
        headers=api_headers(client),
    )
    assert changed.status_code == 200 and changed.json()["weekdays"] == [1, 3]
    empty = await client.patch(
        f"/api/v1/standing-orders/{standing['id']}",
        json={"weekdays": []},
        headers=api_headers(client),
    )
    assert empty.status_code == 422
    stopped = await client.delete(
        f"/api/v1/standing-orders/{standing['id']}", headers=api_headers(client)
    )
    assert stopped.status_code == 200 and stopped.json()["active"] is False
    bad = await client.post(
        "/api/v1/standing-orders",
        json={"offer_id": offer_id, "weekdays": [8]},
        headers=api_headers(client),
    )
    assert bad.status_code == 422
