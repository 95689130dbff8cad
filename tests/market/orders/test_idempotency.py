"""Idempotency keys belong to their caller and to one request: the same key
with a different body is a 422 (as Stripe answers), another caller's key is
no business of this one, and the key rule is written once — any key it
accepts fits every internal key and reference derived from it, on SQLite and
PostgreSQL alike."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from market.auth import service as auth_service
from market.errors import InvalidInput
from market.orders import service
from market.orders.models import Order
from tests.factories import api_headers
from tests.market.orders.conftest import Diner, days_ahead, noon_before, sign_in_citizen
from tests.vouchers.conftest import make_citizen, make_grant


async def orders(session) -> int:
    return (await session.execute(select(func.count()).select_from(Order))).scalar_one()


async def test_the_same_key_with_a_different_body_is_a_422(client, session, kitchen, diner):
    await sign_in_citizen(client, session, diner)
    headers = {**api_headers(client), "Idempotency-Key": "same-key"}
    first = await client.post(
        "/api/v1/orders",
        json={"offer_id": kitchen.offer.id, "delivery_on": days_ahead(3).isoformat()},
        headers=headers,
    )
    assert first.status_code == 201, first.text
    changed = await client.post(
        "/api/v1/orders",
        json={"offer_id": kitchen.offer.id, "delivery_on": days_ahead(4).isoformat()},
        headers=headers,
    )
    assert changed.status_code == 422, changed.text
    assert changed.json()["error"] == "invalid_input"
    assert "different" in changed.json()["detail"]
    assert await orders(session) == 1


async def test_keys_are_scoped_to_the_caller(session, world, kitchen, diner):
    case_worker = auth_service.actor_for(world.user("case_worker"))
    neighbour = await make_citizen(
        session, case_worker, cpr="020245-1235", name="Ib Nabo", postal_code="8200"
    )
    await make_grant(
        session,
        case_worker,
        neighbour,
        diner.grant.valid_from,
        weeks=6,
        units=7,
        copayment_ore=6000,
    )
    user = await auth_service.get_user(session, user_id=neighbour.user_id)
    other = Diner(citizen=neighbour, grant=None, me=auth_service.actor_for(user))  # type: ignore[arg-type]
    day = days_ahead(3)
    kwargs = {"offer_id": kitchen.offer.id, "delivery_on": day, "now": noon_before(day)}
    mine = await service.place_order(
        session, actor=diner.me, citizen_id=None, idempotency_key="1", **kwargs
    )
    theirs = await service.place_order(
        session, actor=other.me, citizen_id=None, idempotency_key="1", **kwargs
    )
    assert mine.id != theirs.id
    assert (mine.citizen_id, theirs.citizen_id) == (diner.citizen.id, neighbour.id)


@pytest.mark.parametrize("length", [1, 90, 150, 187, 200])
async def test_every_key_the_rule_accepts_fits_everything_derived_from_it(
    session, kitchen, diner, length
):
    day = days_ahead(3)
    key = "k" * length
    placed = await service.place_order(
        session,
        actor=diner.me,
        citizen_id=None,
        offer_id=kitchen.offer.id,
        delivery_on=day,
        idempotency_key=key,
        now=noon_before(day),
    )
    again = await service.place_order(
        session,
        actor=diner.me,
        citizen_id=None,
        offer_id=kitchen.offer.id,
        delivery_on=day,
        idempotency_key=key,
        now=noon_before(day),
    )
    assert again.id == placed.id and await orders(session) == 1
    assert len(placed.idempotency_key) <= 100


async def test_a_key_beyond_the_rule_is_a_422_sentence_from_one_place(
    client, session, kitchen, diner
):
    await sign_in_citizen(client, session, diner)
    body = {"offer_id": kitchen.offer.id, "delivery_on": days_ahead(3).isoformat()}
    for key in ("k" * 201, " "):
        response = await client.post(
            "/api/v1/orders", json=body, headers={**api_headers(client), "Idempotency-Key": key}
        )
        assert response.status_code == 422, response.text
        assert response.json()["detail"] == (
            "An idempotency key of 1 to 200 characters is required."
        )
    with pytest.raises(InvalidInput):
        await service.repeat_order(
            session, actor=diner.me, order_id=1, days=[days_ahead(5)], idempotency_key="k" * 201
        )
    assert await orders(session) == 0


async def test_repeating_an_order_takes_a_key_of_the_full_length(session, kitchen, diner):
    day = days_ahead(3)
    first = await service.place_order(
        session,
        actor=diner.me,
        citizen_id=None,
        offer_id=kitchen.offer.id,
        delivery_on=day,
        idempotency_key="first",
        now=noon_before(day),
    )
    more = [day + timedelta(days=1), day + timedelta(days=2)]
    repeated = await service.repeat_order(
        session,
        actor=diner.me,
        order_id=first.id,
        days=more,
        idempotency_key="r" * 200,
        now=noon_before(day),
    )
    assert [o.delivery_on for o in repeated] == more
    assert await orders(session) == 3
