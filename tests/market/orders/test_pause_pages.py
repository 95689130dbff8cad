"""The pause page: a relative pauses the meals for a hospital stay, a mistake
re-renders the form with the sentence and what was typed, ending it early."""

from sqlalchemy import select

from market.orders import service
from market.orders.models import CitizenPause, OrderStatus
from tests.factories import login, post_form
from tests.market.orders.conftest import days_ahead
from tests.market.orders.test_citizen_pages import _proxy


async def test_a_relative_pauses_for_a_hospital_stay_and_ends_it_early(
    client, session, world, settings, kitchen, diner
):
    day = days_ahead(3)
    order = await service.place_order(
        session,
        actor=diner.me,
        citizen_id=None,
        offer_id=kitchen.offer.id,
        delivery_on=day,
        idempotency_key="before-the-stay",
    )
    await session.commit()
    proxy = await _proxy(session, world, settings, diner)
    await login(client, proxy.email, "p-1234567890")
    base = f"/citizens/{diner.citizen.id}"
    page = await client.get(f"{base}/pause")
    assert page.status_code == 200 and "Hospital stay" in page.text
    assert "checked" not in page.text  # no reason chosen for them

    # a mistake: no reason chosen; the form comes back with the sentence and the dates
    wrong = await post_form(
        client,
        f"{base}/pause",
        {"starts_on": day.isoformat(), "resumes_on": days_ahead(6).isoformat()},
    )
    assert wrong.status_code == 422
    assert "Choose why the meals should pause." in wrong.text
    assert f'value="{day.isoformat()}"' in wrong.text
    assert f'value="{days_ahead(6).isoformat()}"' in wrong.text
    assert (await session.execute(select(CitizenPause))).scalars().all() == []

    done = await post_form(
        client,
        f"{base}/pause",
        {"reason": "hospital", "starts_on": day.isoformat(), "resumes_on": ""},
    )
    assert done.status_code == 200, done.text
    assert "The pause is saved." in done.text and "until further notice" in done.text
    assert "1 meal is cancelled. You do not pay for it." in done.text
    await session.refresh(order)
    assert order.status == OrderStatus.CANCELLED
    pause = (await session.execute(select(CitizenPause))).scalars().one()
    assert (pause.created_by_user_id, pause.on_behalf_of_user_id) == (
        proxy.id,
        diner.citizen.user_id,
    )

    ended = await post_form(
        client, f"/pauses/{pause.id}/end", {"resumes_on": days_ahead(5).isoformat()}
    )
    assert ended.status_code == 200 and "Meals start again" in ended.text
    await session.refresh(pause)
    assert pause.resumes_on == days_ahead(5)

    bad = await post_form(client, f"/pauses/{pause.id}/end", {"resumes_on": "2026-02-30"})
    assert bad.status_code == 422 and "2026-02-30 is not a date" in bad.text


async def test_a_relative_of_someone_else_cannot_end_the_pause(
    client, session, world, settings, kitchen, diner
):
    from market.auth import service as auth_service
    from market.orders.fulfilment import pauses
    from tests.vouchers.conftest import make_citizen

    outcome = await pauses.register_pause(
        session,
        actor=diner.me,
        citizen_id=None,
        reason="holiday",
        starts_on=days_ahead(3),
        resumes_on=None,
    )
    case_worker = auth_service.actor_for(world.user("case_worker"))
    neighbour = await make_citizen(session, case_worker, postal_code="8200", cpr="0101401235")
    await session.commit()
    neighbour_diner = type(diner)(citizen=neighbour, grant=diner.grant, me=diner.me)
    other = await _proxy(session, world, settings, neighbour_diner, email="someone@example.dk")
    await login(client, other.email, "p-1234567890")
    refused = await post_form(client, f"/pauses/{outcome.pause.id}/end", {"resumes_on": ""})
    assert refused.status_code == 404
    assert "That pause does not exist" in refused.text
    await session.refresh(outcome.pause)
    assert outcome.pause.resumes_on is None
