"""Welfare alerts: the on-call e-mail through a real SMTP server, the queue
(open first, oldest first, overdue marked in words), acknowledging with a
note, the history, the menu badge and the JSON API."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from market.auth import service as auth_service
from market.clock import COPENHAGEN
from market.db import utcnow
from market.orders import service
from market.orders.models import AlertStatus, FailureReason, WelfareAlert
from market.outbox import service as outbox
from tests.factories import api_headers, login, post_form
from tests.market.orders.conftest import noon_before
from tests.market.orders.outbox_helpers import same_connection
from tests.smtp_servers import smtp
from tests.vouchers.conftest import CPR


@pytest.fixture
def smtp_server(tmp_path):
    """A real SMTP server that requires STARTTLS, with a certificate made here."""
    with smtp("starttls", tmp_path) as server:
        yield server


async def fail_at_the_door(session, kitchen, diner, settings, key, *, raised_at=None):
    # Failed at the door on its delivery day: the day of the alert.
    raised_at = raised_at or utcnow()
    day = raised_at.astimezone(COPENHAGEN).date()
    order = await service.place_order(
        session,
        actor=diner.me,
        citizen_id=None,
        offer_id=kitchen.offer.id,
        delivery_on=day,
        idempotency_key=key,
        now=noon_before(day),
    )
    await service.accept_orders(session, actor=kitchen.staff, order_ids=[order.id])
    await service.mark_out_for_delivery(
        session, actor=kitchen.staff, order_ids=[order.id], now=raised_at
    )
    await service.mark_failed(
        session,
        actor=kitchen.staff,
        order_id=order.id,
        reason=FailureReason.CITIZEN_ABSENT,
        note="Ingen åbnede; lyset var tændt",
        settings=settings,
        now=raised_at,
    )
    await session.commit()
    return order.id


async def test_the_on_call_email_says_what_to_do_over_tls_and_names_nobody(
    session, world, kitchen, diner, settings, smtp_server
):
    """Issue 15, 'Personal data in e-mail': the on-call person learns that there is
    an alert, how urgent it is and where to open it; name, address, phone, CPR
    and the kitchen's note stay in the system, behind a sign-in."""
    port, inbox, cert = smtp_server
    settings = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_ca_file": cert,
            "public_url": "https://velfaerd.aarhus.example",
        }
    )
    world.municipality.oncall_email = "vagt@aarhus.example"
    await session.commit()
    await fail_at_the_door(session, kitchen, diner, settings, "mail")
    alert = (await session.execute(select(WelfareAlert))).scalar_one()
    report = await outbox.deliver_due(same_connection(session), settings=settings)
    assert report.delivered == 1
    [(recipients, content)] = inbox.messages
    assert inbox.tls == [True]
    assert recipients == ["vagt@aarhus.example"]
    import email

    message = email.message_from_string(content)
    text = message.get_payload(decode=True).decode()
    subject = str(email.header.make_header(email.header.decode_header(message["Subject"])))
    citizen = await session.get(type(diner.citizen), diner.citizen.id)
    for private in filter(
        None,
        [
            citizen.full_name,
            citizen.address,
            citizen.phone,
            citizen.contact_name,
            citizen.contact_phone,
            CPR,
            CPR.replace("-", ""),
            "Ingen åbnede; lyset var tændt",
        ],
    ):
        assert private not in text and private not in subject, private
    assert f"https://velfaerd.aarhus.example/alerts#alert-{alert.id}" in text
    assert "30 minutter" in text and "Velfærdsalarm" in subject


async def test_queue_marks_overdue_in_words_and_acknowledging_needs_a_note(
    client, session, world, kitchen, diner, settings
):
    old = await fail_at_the_door(
        session, kitchen, diner, settings, "old", raised_at=utcnow() - timedelta(minutes=45)
    )
    new = await fail_at_the_door(session, kitchen, diner, settings, "new")
    alerts = {
        a.order_id: a.id for a in (await session.execute(select(WelfareAlert))).scalars().all()
    }
    await login(client, "sagsbehandler@aarhus.dk")
    page = await client.get("/alerts")
    assert page.status_code == 200
    text = page.text
    assert text.count("Overdue") == 1  # only the one raised 45 minutes ago
    assert text.index(f"/alerts/{alerts[old]}/acknowledge") < text.index(
        f"/alerts/{alerts[new]}/acknowledge"
    )
    assert "Not acknowledged within 30 minutes." in text
    assert "2 open" in text
    refused = await post_form(client, f"/alerts/{alerts[old]}/acknowledge", {"note": " "})
    assert refused.status_code == 422
    assert "Please write what was done, e.g. who was called." in refused.text
    done = await post_form(
        client,
        f"/alerts/{alerts[old]}/acknowledge",
        {"note": "Ringede til datteren; borgeren var hos frisøren"},
    )
    assert done.status_code == 303
    page = await client.get(done.headers["location"])
    assert "The alert is acknowledged." in page.text
    assert "Ringede til datteren; borgeren var hos frisøren" in page.text  # history
    assert "Overdue" not in page.text and "1 open" in page.text
    again = await post_form(client, f"/alerts/{alerts[old]}/acknowledge", {"note": "igen"})
    assert again.status_code == 409
    assert "Someone has already acknowledged this." in again.text  # not about an order


async def test_other_municipalities_and_providers_cannot_handle_alerts(
    client, session, world, kitchen, diner, settings
):
    await fail_at_the_door(session, kitchen, diner, settings, "theirs")
    alert_id = (await session.execute(select(WelfareAlert.id))).scalar_one()
    await login(client, "admin@odense.dk")
    page = await client.get("/alerts")
    assert page.status_code == 200 and "Karen Jensen" not in page.text
    response = await post_form(client, f"/alerts/{alert_id}/acknowledge", {"note": "x"})
    assert response.status_code == 404
    client.cookies.clear()
    await login(client, "kok@godekoekken.dk")
    assert (await client.get("/alerts")).status_code == 403


async def test_alerts_api(client, session, world, kitchen, diner, settings):
    order_id = await fail_at_the_door(session, kitchen, diner, settings, "api")
    await login(client, "admin@aarhus.dk")
    headers = api_headers(client)
    queue = await client.get("/api/v1/alerts", headers=headers)
    assert queue.status_code == 200
    [alert] = queue.json()["open"]
    assert alert["order_id"] == order_id and alert["citizen_name"] == "Karen Jensen"
    assert alert["overdue"] is False and alert["provider_note"] == "Ingen åbnede; lyset var tændt"
    done = await client.post(
        f"/api/v1/alerts/{alert['id']}/acknowledge",
        json={"note": "Hjemmeplejen kiggede forbi"},
        headers=headers,
    )
    assert done.status_code == 200
    assert done.json()["status"] == "acknowledged"
    after = (await client.get("/api/v1/alerts", headers=headers)).json()
    assert after["open"] == [] and after["acknowledged"][0]["acknowledgement_note"] == (
        "Hjemmeplejen kiggede forbi"
    )
    status = (await session.execute(select(WelfareAlert.status))).scalar_one()
    assert status == AlertStatus.ACKNOWLEDGED


async def test_the_badge_counts_only_for_alert_staff(session, world, kitchen, diner, settings):
    await fail_at_the_door(session, kitchen, diner, settings, "badge")
    case_worker = auth_service.actor_for(world.user("case_worker"))
    odense = auth_service.actor_for(world.user("odense_admin"))
    assert await service.open_alert_count(session, actor=case_worker) == 1
    assert await service.open_alert_count(session, actor=odense) == 0
    assert await service.open_alert_count(session, actor=kitchen.staff) == 0
