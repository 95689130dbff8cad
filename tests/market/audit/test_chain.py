from sqlalchemy import delete, select, text, update

from market.audit import service as audit
from market.audit.models import AuditEvent
from market.auth.models import Role
from market.auth.permissions import Actor


async def _append(session, municipality_id, n):
    actor = Actor(user_id=None, role=Role.PLATFORM_ADMIN, full_name="t")  # type: ignore[arg-type]
    for i in range(n):
        await audit.record(
            session,
            actor=actor,
            action="test.event",
            entity_type="test",
            entity_id=i,
            municipality_id=municipality_id,
            data={"i": i, "kr": "æøå"},
        )


async def test_chain_verifies_when_untouched(session, world):
    await _append(session, world.municipality.id, 5)
    report = await audit.verify(session)
    assert report.ok, report.first_broken
    chain = next(c for c in report.chains if c.chain == f"municipality:{world.municipality.id}")
    assert chain.events >= 5


async def test_an_edited_row_is_named(session, world):
    await _append(session, world.municipality.id, 5)
    chain = f"municipality:{world.municipality.id}"
    target = (
        await session.execute(
            select(AuditEvent)
            .where(AuditEvent.chain == chain)
            .order_by(AuditEvent.seq.desc())
            .offset(2)
            .limit(1)
        )
    ).scalar_one()
    await session.execute(
        update(AuditEvent).where(AuditEvent.id == target.id).values(data_json='{"i":999}')
    )
    report = await audit.verify_chain(session, chain=chain)
    assert not report.ok
    assert report.broken_at_seq == target.seq
    assert "changed" in report.problem


async def test_a_deleted_row_is_named(session, world):
    await _append(session, world.municipality.id, 5)
    chain = f"municipality:{world.municipality.id}"
    target = (
        await session.execute(
            select(AuditEvent)
            .where(AuditEvent.chain == chain)
            .order_by(AuditEvent.seq.desc())
            .offset(2)
            .limit(1)
        )
    ).scalar_one()
    await session.execute(delete(AuditEvent).where(AuditEvent.id == target.id))
    report = await audit.verify_chain(session, chain=chain)
    assert not report.ok and report.broken_at_seq == target.seq
    assert "missing" in report.problem


async def test_deleting_the_newest_rows_is_detected_by_the_head(session, world):
    await _append(session, world.municipality.id, 3)
    chain = f"municipality:{world.municipality.id}"
    last = (
        await session.execute(
            text("SELECT max(seq) FROM audit_event WHERE chain = :c"), {"c": chain}
        )
    ).scalar_one()
    await session.execute(
        delete(AuditEvent).where(AuditEvent.chain == chain, AuditEvent.seq == last)
    )
    report = await audit.verify_chain(session, chain=chain)
    assert not report.ok and "deleted" in report.problem


async def test_chains_are_per_municipality(session, world):
    await _append(session, world.municipality.id, 2)
    await _append(session, world.other_municipality.id, 2)
    chains = {c.chain for c in (await audit.verify(session)).chains}
    assert {
        f"municipality:{world.municipality.id}",
        f"municipality:{world.other_municipality.id}",
    } <= chains


async def test_auditor_verifies_from_the_web_page_and_api(client, world, session):
    from tests.factories import api_headers, login, post_form

    await login(client, "revisor@aarhus.dk")
    page = await post_form(client, "/audit/verify")
    assert page.status_code == 200 and "The audit chain is intact" in page.text
    api = await client.get("/api/v1/audit/verify", headers=api_headers(client))
    assert api.status_code == 200 and api.json()["ok"] is True
    # The auditor's report covers only their own municipality's chain.
    assert {c["chain"] for c in api.json()["chains"]} == {f"municipality:{world.municipality.id}"}


async def test_citizen_cannot_verify(client, world):
    from tests.factories import login

    await login(client, "borger@example.dk")
    response = await client.get("/api/v1/audit/verify")
    assert response.status_code == 403
    assert response.json()["detail"] == "Your role does not allow this."


async def test_the_log_names_who_acted_and_for_whom(client, world, session):
    from market.auth import service as auth_service
    from tests.factories import login

    case_worker = auth_service.actor_for(world.user("case_worker"))
    acting = case_worker.__class__(
        **{**case_worker.__dict__, "on_behalf_of_user_id": world.user("citizen").id}
    )
    await audit.record(
        session,
        actor=acting,
        action="test.for_citizen",
        entity_type="test",
        entity_id=1,
        municipality_id=world.municipality.id,
    )
    await session.commit()
    await login(client, "revisor@aarhus.dk")
    page = await client.get("/audit")
    row = page.text.split("test.for_citizen")[1].split("</tr>")[0]
    assert world.user("case_worker").full_name in row and world.user("citizen").full_name in row
