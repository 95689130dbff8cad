"""/livez, /readyz (503 with reasons), /metrics behind a token, request ids and
JSON log lines without personal data, and the dead-letter page's audited retry."""

import io
import json
import logging
import logging.config
from datetime import timedelta

import httpx
from pydantic import SecretStr
from sqlalchemy import select

from market.app import create_app
from market.audit.models import AuditEvent
from market.db import utcnow
from market.operations import repository
from market.operations.logs import logging_config
from market.outbox import repository as outbox_repository
from market.outbox.models import OutboxKind, OutboxMessage, OutboxStatus
from tests.factories import login, post_form


async def test_livez_and_readyz_answer_ok_on_a_healthy_instance(client):
    assert (await client.get("/livez")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["database"] == "ok"
    assert (await client.get("/healthz")).status_code == 200


async def test_readyz_is_503_when_the_database_is_unreachable(settings):
    down = settings.model_copy(
        update={"database_url": "postgresql+asyncpg://nobody@127.0.0.1:1/nothing"}
    )
    app = create_app(down)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        assert (await client.get("/livez")).status_code == 200
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["reasons"][0].startswith("database unreachable")
    await app.state.engine.dispose()


async def test_readyz_is_503_when_the_periodic_work_is_overdue(settings, session):
    expecting = settings.model_copy(update={"periodic_max_age_seconds": 600})
    app = _app_on(expecting, session)
    async with _client(app) as client:
        never = await client.get("/readyz")
        assert never.status_code == 503
        assert "periodic work has not succeeded" in never.json()["reasons"][0]
        old = utcnow() - timedelta(hours=1)
        await repository.record_run(
            session, job="tick", started_at=old, finished_at=old, ok=True, report="{}"
        )
        assert (await client.get("/readyz")).status_code == 503
        now = utcnow()
        await repository.record_run(
            session, job="tick", started_at=now, finished_at=now, ok=True, report="{}"
        )
        assert (await client.get("/readyz")).status_code == 200


async def test_readyz_is_503_above_the_dead_letter_threshold(settings, session):
    app = _app_on(settings.model_copy(update={"ready_max_dead_letters": 0}), session)
    await _dead_letter(session, "k1", municipality_id=None)
    async with _client(app) as client:
        ready = await client.get("/readyz")
    assert ready.status_code == 503 and "given up on" in ready.json()["reasons"][0]


async def test_metrics_need_the_token_and_report_the_figures(settings, session):
    app = _app_on(settings.model_copy(update={"metrics_token": SecretStr("scrape-me")}), session)
    await _dead_letter(session, "k2", municipality_id=None)
    async with _client(app) as client:
        await client.get("/livez")
        assert (await client.get("/metrics")).status_code == 403
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403
        page = await client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert page.status_code == 200
    text = page.text
    assert 'market_http_request_duration_seconds_count{method="GET",route="/livez"' in text
    assert "market_outbox_dead_letters 1.0" in text
    assert "market_welfare_alerts_open 0.0" in text
    assert "market_periodic_last_run_timestamp_seconds" in text


async def test_metrics_without_a_token_only_for_loopback(settings, session):
    app = _app_on(settings, session)
    for client_host, status in (("127.0.0.1", 200), ("203.0.113.9", 403)):
        transport = httpx.ASGITransport(app=app, client=(client_host, 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/metrics")).status_code == status


async def test_request_id_in_and_out_and_log_lines_carry_it_without_personal_data(
    client, settings, world, monkeypatch
):
    buffer = io.StringIO()
    monkeypatch.setattr("sys.stderr", buffer)
    logging.config.dictConfig(logging_config(settings))
    try:
        await login(client, "sagsbehandler@aarhus.dk")
        given = await client.get(
            "/citizens", params={"q": "Jensen"}, headers={"X-Request-ID": "abc-123"}
        )
        assert given.headers["X-Request-ID"] == "abc-123"
        # A CPR number in a URL is refused, and neither the refusal nor its log line holds it.
        refused = await client.get(
            "/citizens", params={"q": "0101451234"}, headers={"X-Request-ID": "cpr-1"}
        )
        assert refused.status_code == 400
        made = await client.get("/livez", headers={"X-Request-ID": "bad id\nwith newline"})
        assert made.headers["X-Request-ID"] != "bad id\nwith newline"
        assert len(made.headers["X-Request-ID"]) == 32
    finally:
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
        logging.getLogger().handlers.clear()
    lines = [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    access = [line for line in lines if line["logger"] == "market.access"]
    citizens = next(line for line in access if line.get("request_id") == "abc-123")
    assert citizens["route"] == "/citizens"
    assert citizens["user_id"] == world.user("case_worker").id
    assert citizens["municipality_id"] == world.municipality.id
    assert "0101451234" not in buffer.getvalue()


async def test_dead_letters_are_listed_and_retried_once_audited(client, session, world):
    mine = await _dead_letter(session, "alert:1:email", municipality_id=world.municipality.id)
    theirs = await _dead_letter(
        session, "alert:2:email", municipality_id=world.other_municipality.id
    )
    await login(client, "admin@aarhus.dk")
    page = await client.get("/operations/dead-letters")
    assert page.status_code == 200
    assert f"/operations/dead-letters/{mine}/retry" in page.text
    assert f"/operations/dead-letters/{theirs}/retry" not in page.text
    assert "Secret body" not in page.text  # the message itself is never shown

    other = await post_form(client, f"/operations/dead-letters/{theirs}/retry")
    assert other.status_code == 404
    done = await post_form(client, f"/operations/dead-letters/{mine}/retry")
    assert done.status_code == 303
    message = await session.get(OutboxMessage, mine)
    await session.refresh(message)
    assert message.status == OutboxStatus.PENDING and message.attempts == 0
    twice = await post_form(client, f"/operations/dead-letters/{mine}/retry")
    assert twice.status_code == 404
    events = (
        (await session.execute(select(AuditEvent).where(AuditEvent.action == "outbox.retried")))
        .scalars()
        .all()
    )
    assert [e.entity_id for e in events] == [str(mine)]


async def test_only_admins_see_dead_letters(client, world):
    await login(client, "sagsbehandler@aarhus.dk")
    assert (await client.get("/operations/dead-letters")).status_code == 403


async def _dead_letter(session, key: str, *, municipality_id: int | None) -> int:
    await outbox_repository.add_once(
        session,
        kind=OutboxKind.EMAIL,
        idempotency_key=key,
        payload_json=json.dumps({"to": ["vagt@aarhus.dk"], "subject": "s", "body": "Secret body"}),
        municipality_id=municipality_id,
    )
    message = await outbox_repository.by_key(session, key)
    await outbox_repository.mark_failed(
        session, message_id=message.id, error="refused", retry_at=None
    )
    await session.commit()
    return message.id


def _app_on(settings, session):
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def provide():
        yield session

    return create_app(settings, session_provider=provide)


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
