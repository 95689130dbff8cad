"""Rules of citizens, grants, caps, proxies and letter codes, at the service level."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from market import crypto
from market.audit.models import AuditEvent
from market.auth import service as auth_service
from tests.conftest import TEST_SECRET
from tests.factories import api_headers, login, post_form
from tests.vouchers.conftest import ledger_snapshot, make_citizen, make_grant, terms
from vouchers import repository, service
from vouchers.exceptions import (
    CapMissing,
    CitizenExists,
    CitizenNotFound,
    CopaymentOverCap,
    LetterCodeInvalid,
)
from vouchers.models import NO_WEEK, AccountKind, GrantStatus


async def test_cpr_is_encrypted_hashed_and_never_audited(session, world, caps, case_worker):
    citizen = await make_citizen(session, case_worker, cpr="010145-1234")
    assert crypto.decrypt(TEST_SECRET, citizen.cpr_encrypted) == "0101451234"
    assert citizen.cpr_hash == service.cpr_hash(TEST_SECRET, "0101451234")
    for (data,) in await session.execute(select(AuditEvent.data_json)):
        assert "0101451234" not in data and "010145-1234" not in data
    with pytest.raises(CitizenExists):
        await make_citizen(session, case_worker, cpr="0101451234", name="Someone Else")
    found = await service.search_citizens(
        session, actor=case_worker, secret_key=TEST_SECRET, query="0101451234"
    )
    assert [c.id for c in found] == [citizen.id]
    other = auth_service.actor_for(world.user("odense_admin"))
    assert (
        await service.search_citizens(
            session, actor=other, secret_key=TEST_SECRET, query="010145-1234"
        )
        == []
    )
    with pytest.raises(CitizenNotFound):
        await service.open_citizen_record(session, actor=other, citizen_id=citizen.id)


async def test_co_payment_cap_is_per_municipality_and_year(session, citizen, case_worker, monday):
    year = monday.year
    with pytest.raises(CopaymentOverCap) as over:
        await make_grant(session, case_worker, citizen, monday, copayment_ore=6501)
    assert f"for {year}" in str(over.value)
    grant = await make_grant(session, case_worker, citizen, monday, copayment_ore=6500)
    assert grant.copayment_ore == 6500
    later = monday.replace(year=year + 10)
    with pytest.raises(CapMissing) as missing:
        await service.grant_voucher(
            session, actor=case_worker, citizen_id=citizen.id, terms=terms(later)
        )
    assert f"set the cap for {year + 10}" in str(missing.value)


async def test_statutory_2024_cap_is_61_kroner(session, world, caps, case_worker):
    cap = await repository.get_cap(session, world.municipality.id, 2024)
    assert cap.cap_ore == 6100


async def test_overlapping_grants_are_refused_and_supersede_dates_are_checked(
    session, citizen, case_worker, monday
):
    grant = await make_grant(session, case_worker, citizen, monday, weeks=4)
    before = await ledger_snapshot(session)
    with pytest.raises(Exception) as overlap:
        await make_grant(session, case_worker, citizen, monday + timedelta(days=7))
    assert overlap.value.status_code == 422 and "supersedes" in str(overlap.value)
    for start in (monday, monday - timedelta(days=1), monday + timedelta(days=40)):
        with pytest.raises(Exception) as bad:
            await service.supersede_grant(
                session, actor=case_worker, grant_id=grant.id, terms=terms(start)
            )
        assert bad.value.status_code == 422
    assert await ledger_snapshot(session) == before


async def test_close_past_weeks_expires_leftovers_and_ended_grants(
    session, citizen, case_worker, monday
):
    start = monday - timedelta(days=21)
    grant = await make_grant(session, case_worker, citizen, start, weeks=2)  # ended last week
    assert grant.valid_to < service.today_in_copenhagen()
    closed = await service.close_past_weeks(session)
    assert closed == 2
    assert grant.status == GrantStatus.EXPIRED
    assert await repository.granted_balance(session, grant.id) == 0
    for week in service.weeks_between(grant.valid_from, grant.valid_to):
        assert await repository.balance(session, grant.id, AccountKind.EXPIRED, week) == 7
    assert await repository.balance(session, grant.id, AccountKind.EXPIRED, NO_WEEK) == 0
    assert await service.close_past_weeks(session) == 0  # idempotent
    assert (await service.verify_ledger(session)).ok


async def test_letter_code_is_single_use_and_reissue_replaces_it(
    session, citizen, case_worker, settings
):
    code, expires_at = await service.issue_letter_code(
        session, actor=case_worker, settings=settings, citizen_id=citizen.id
    )
    assert len(code) == 9 and code[4] == "-"
    assert set(code.replace("-", "")) <= set(service.LETTER_CODE_ALPHABET)
    assert (expires_at - service.utcnow()).days in (29, 30)
    user, token = await service.sign_in_with_letter_code(
        session, settings=settings, code=code, client_address="127.0.0.1"
    )
    assert user.id == citizen.user_id and token
    with pytest.raises(LetterCodeInvalid):
        await service.sign_in_with_letter_code(
            session, settings=settings, code=code, client_address="127.0.0.1"
        )

    first, _ = await service.issue_letter_code(
        session, actor=case_worker, settings=settings, citizen_id=citizen.id
    )
    second, _ = await service.issue_letter_code(
        session, actor=case_worker, settings=settings, citizen_id=citizen.id
    )
    with pytest.raises(LetterCodeInvalid):
        await service.sign_in_with_letter_code(
            session, settings=settings, code=first, client_address="127.0.0.1"
        )
    await service.sign_in_with_letter_code(
        session, settings=settings, code=second, client_address="127.0.0.1"
    )
    actions = [
        a
        for (a,) in await session.execute(
            select(AuditEvent.action)
            .where(AuditEvent.action.like("letter_code.%"))
            .order_by(AuditEvent.id)
        )
    ]
    assert actions == [
        "letter_code.issued",
        "letter_code.used",
        "letter_code.refused",
        "letter_code.issued",
        "letter_code.issued",
        "letter_code.refused",
        "letter_code.used",
    ]


async def test_a_staff_user_cannot_become_a_proxy(session, world, citizen, case_worker, settings):
    with pytest.raises(Exception) as refused:
        await service.link_proxy(
            session,
            actor=case_worker,
            settings=settings,
            citizen_id=citizen.id,
            full_name="Admin",
            email="admin@aarhus.dk",
        )
    assert refused.value.status_code == 422


async def test_caps_page_for_the_municipal_admin(client, world, session, caps):
    municipality_id = world.municipality.id
    await login(client, "admin@aarhus.dk")
    page = await client.get("/copayment-caps")
    assert page.status_code == 200 and "61.00" in page.text
    bad = await post_form(client, "/copayment-caps", {"year": "2031", "cap": "abc"})
    assert bad.status_code == 422 and "2031" in bad.text
    ok = await post_form(client, "/copayment-caps", {"year": "2031", "cap": "71,50"})
    assert ok.status_code == 303
    assert (await repository.get_cap(session, municipality_id, 2031)).cap_ore == 7150
    await login(client, "sagsbehandler@aarhus.dk")
    assert (await client.get("/copayment-caps")).status_code == 403
    assert (
        await client.get("/api/v1/copayment-caps", headers=api_headers(client))
    ).status_code == 403


async def test_acting_for_a_citizen(session, world, citizen, case_worker, settings):
    acting = await service.acting_for_citizen(session, actor=case_worker, citizen_id=citizen.id)
    assert acting.on_behalf_of_user_id == citizen.user_id
    own = auth_service.actor_for(await repository.get_user(session, citizen.user_id))
    assert await service.acting_for_citizen(session, actor=own, citizen_id=citizen.id) == own
    linked = await service.link_proxy(
        session,
        actor=case_worker,
        settings=settings,
        citizen_id=citizen.id,
        full_name="Mads Jensen",
        email="mads@example.dk",
    )
    proxy = auth_service.actor_for(linked.user)
    as_proxy = await service.acting_for_citizen(session, actor=proxy, citizen_id=citizen.id)
    assert as_proxy.user_id == linked.user.id and as_proxy.on_behalf_of_user_id == citizen.user_id
    await service.unlink_proxy(
        session, actor=case_worker, citizen_id=citizen.id, link_id=linked.link.id
    )
    for stranger in (proxy, auth_service.actor_for(world.user("odense_admin"))):
        with pytest.raises(Exception) as refused:
            await service.acting_for_citizen(session, actor=stranger, citizen_id=citizen.id)
        assert refused.value.status_code == 404
