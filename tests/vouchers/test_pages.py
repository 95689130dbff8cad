"""The HTML pages: case workers register, find and assess citizens, change and
revoke vouchers, link proxies and print letters; citizens see their voucher and
sign in once with the letter code."""

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from market.audit.models import AuditEvent
from market.auth import service as auth_service
from market.auth.models import User
from market.auth.security import hash_password
from tests.factories import login, post_form
from tests.vouchers.conftest import ledger_snapshot, make_citizen, make_grant
from vouchers import service
from vouchers.models import Citizen, LetterCode, ProxyLink, VoucherGrant

CPR = "240337-1234"


async def count(session, model) -> int:
    return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def events(session, action: str) -> list[AuditEvent]:
    result = await session.execute(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    )
    return list(result.scalars().all())


def citizen_form(**overrides) -> dict:
    form = {
        "full_name": "Inger Mortensen",
        "cpr": CPR,
        "address": "Nørregade 12",
        "postal_code": "8000",
        "phone": "+4586123456",
        "language": "da",
        "diet_form": "soft",
        "allergies": ["milk", "celery"],
        "contact_name": "Lars Mortensen",
        "contact_phone": "+4522334455",
    }
    form.update(overrides)
    return form


async def test_register_find_and_open_a_citizen(client, world, session, caps):
    await login(client, "sagsbehandler@aarhus.dk")
    response = await post_form(client, "/citizens/new", citizen_form())
    assert response.status_code == 303
    citizen_url = response.headers["location"]

    found = await post_form(client, "/citizens", {"q": "240337-1234"})
    assert found.status_code == 200
    assert "Inger Mortensen" in found.text and "240337-****" in found.text
    assert "240337-1234" not in found.text
    assert "Inger" not in (await post_form(client, "/citizens", {"q": "2403371235"})).text
    by_name = await client.get("/citizens", params={"q": "nørre"})
    assert "Inger Mortensen" in by_name.text

    viewed_before = len(await events(session, "citizen.viewed"))
    record = await client.get(citizen_url)
    assert record.status_code == 200
    assert "240337-****" in record.text and "2403371234" not in record.text
    assert "1234" not in re.sub(r"<[^>]+>", "", record.text).split("CPR")[1][:40]
    viewed = await events(session, "citizen.viewed")
    assert len(viewed) == viewed_before + 1
    assert viewed[-1].actor_user_id == world.user("case_worker").id
    for event in await session.execute(select(AuditEvent.data_json)):
        assert "2403371234" not in event[0] and "240337-1234" not in event[0]

    citizen = (await session.execute(select(Citizen))).scalars().one()
    assert "2403371234" not in citizen.cpr_encrypted and citizen.allergies == ["celery", "milk"]


async def test_bad_citizen_input_is_a_422_that_keeps_the_form_and_stores_nothing(
    client, world, session, caps
):
    await login(client, "sagsbehandler@aarhus.dk")
    before = await count(session, Citizen)
    bad = await post_form(client, "/citizens/new", citizen_form(cpr="320145-1234"))
    assert bad.status_code == 422
    assert "DDMMYY-SSSS" in bad.text and "Nørregade 12" in bad.text
    assert "320145-1234" not in bad.text  # the CPR number is never echoed
    wrong_postal = await post_form(client, "/citizens/new", citizen_form(postal_code="5000"))
    assert wrong_postal.status_code == 422 and "5000" in wrong_postal.text
    assert await count(session, Citizen) == before


async def test_staff_of_another_municipality_and_citizens_cannot_see_records(
    client, world, session, caps, case_worker
):
    citizen = await make_citizen(session, case_worker)
    await session.commit()
    citizen_id = citizen.id
    await login(client, "admin@odense.dk")
    assert (await client.get(f"/citizens/{citizen_id}")).status_code == 404
    assert "No citizens found" in (await client.get("/citizens", params={"q": "Karen"})).text
    await login(client, "borger@example.dk")
    assert (await client.get(f"/citizens/{citizen_id}")).status_code == 403
    assert (await client.get("/citizens")).status_code == 403


async def test_grant_form_refuses_bad_input_with_a_sentence_and_changes_nothing(
    client, world, session, citizen, monday
):
    citizen_id, citizen_user_id = citizen.id, citizen.user_id
    await login(client, "sagsbehandler@aarhus.dk")
    url = f"/citizens/{citizen_id}/grants/new"
    good = {
        "units_per_week": "7",
        "valid_from": monday.isoformat(),
        "valid_to": (monday + timedelta(days=90)).isoformat(),
        "copayment": "60,00",
        "diet_form": "minced",
        "allergies": ["fish"],
    }
    before = await ledger_snapshot(session)
    cases = [
        ({"copayment": "65,50"}, "more than the cap of 65,00 kr."),
        ({"units_per_week": "0"}, "at least 1"),
        ({"units_per_week": "-3"}, "at least 1"),
        ({"valid_to": (monday - timedelta(days=1)).isoformat()}, "must end on or after"),
        ({"copayment": "sixty"}, "is not an amount in kroner"),
        (
            {
                "valid_from": (monday.replace(year=monday.year + 5)).isoformat(),
                "valid_to": (monday.replace(year=monday.year + 5) + timedelta(days=9)).isoformat(),
            },
            "No co-payment cap is set",
        ),
    ]
    for change, sentence in cases:
        response = await post_form(client, url, {**good, **change})
        assert response.status_code == 422, (change, response.text)
        assert sentence in response.text, (change, sentence)
        assert "minced" in response.text  # what was typed is kept
    assert await ledger_snapshot(session) == before

    ok = await post_form(client, url, good)
    assert ok.status_code == 303
    grant = (await session.execute(select(VoucherGrant))).scalars().one()
    assert grant.copayment_ore == 6000 and grant.allergies == ["fish"]
    record = await client.get(f"/citizens/{citizen_id}")
    assert "60.00" in record.text and "Active" in record.text
    created = await events(session, "grant.created")
    assert created[-1].on_behalf_of_user_id == citizen_user_id


async def test_supersede_and_revoke_pages(client, world, session, citizen, case_worker, monday):
    grant = await make_grant(session, case_worker, citizen, monday, weeks=8)
    await session.commit()
    citizen_id, grant_id = citizen.id, grant.id
    await login(client, "sagsbehandler@aarhus.dk")
    form = await client.get(f"/grants/{grant_id}/supersede", params={"citizen": citizen_id})
    assert form.status_code == 200
    changed = await post_form(
        client,
        f"/grants/{grant_id}/supersede",
        {
            "citizen_id": citizen_id,
            "units_per_week": "5",
            "valid_from": (monday + timedelta(days=14)).isoformat(),
            "valid_to": (monday + timedelta(days=60)).isoformat(),
            "copayment": "40",
            "diet_form": "normal",
        },
    )
    assert changed.status_code == 303
    await session.refresh(grant)
    assert grant.status == "superseded"
    new = (
        await session.execute(select(VoucherGrant).where(VoucherGrant.supersedes_id == grant_id))
    ).scalar_one()
    new_id = new.id
    # a superseded grant cannot be changed again: 409 with a sentence
    again = await post_form(
        client, f"/grants/{grant_id}/revoke", {"citizen_id": citizen_id, "reason": "x"}
    )
    assert again.status_code == 409 and "cannot become revoked" in again.text

    no_reason = await post_form(client, f"/grants/{new_id}/revoke", {"citizen_id": citizen_id})
    assert no_reason.status_code == 422 and "reason" in no_reason.text
    revoked = await post_form(
        client,
        f"/grants/{new_id}/revoke",
        {
            "citizen_id": citizen_id,
            "reason": "Moved to a nursing home",
            "ends_on": (monday + timedelta(days=20)).isoformat(),
        },
    )
    assert revoked.status_code == 303
    await session.refresh(new)
    assert new.status == "revoked" and new.valid_to == monday + timedelta(days=20)
    assert (await events(session, "grant.revoked"))[-1].entity_id == str(new_id)


async def use_code(client, code: str):
    """Like a person arriving fresh from the letter: no cookies yet."""
    client.cookies.clear()
    await client.get("/letter-code")
    return await post_form(client, "/letter-code", {"code": code})


async def code_from(html: str) -> str:
    match = re.search(r'class="code">([A-Z0-9]{4}-[A-Z0-9]{4})<', html)
    assert match, "no code on the letter"
    return match.group(1)


async def test_letter_code_signs_in_once_and_then_a_password_is_set(
    client, world, session, citizen, case_worker, monday, app
):
    await make_grant(session, case_worker, citizen, monday)
    await session.commit()
    citizen_id, citizen_user_id = citizen.id, citizen.user_id
    await login(client, "sagsbehandler@aarhus.dk")
    page = await client.get(f"/citizens/{citizen_id}/letter")
    assert page.status_code == 200 and "Issue a sign-in code" in page.text
    issued = await post_form(client, f"/citizens/{citizen_id}/letter-code")
    assert issued.status_code == 303
    letter = await client.get(f"/citizens/{citizen_id}/letter")
    code = await code_from(letter.text)
    assert "<svg" in letter.text and "60.00" in letter.text
    assert "/letter-code#" + code in letter.text  # the QR link (see test_letter_code_limits)

    client.cookies.clear()
    form = await client.get("/letter-code")
    assert form.status_code == 200
    signed_in = await post_form(client, "/letter-code", {"code": code.lower().replace("-", " ")})
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/letter-code/password"
    password_page = await client.get("/letter-code/password")
    assert password_page.status_code == 200 and "@" in password_page.text
    weak = await post_form(client, "/letter-code/password", {"password": "short"})
    assert weak.status_code == 422
    saved = await post_form(client, "/letter-code/password", {"password": "my-new-password-1"})
    assert saved.status_code == 303 and saved.headers["location"] == "/my-voucher"
    voucher = await client.get("/my-voucher")
    assert voucher.status_code == 200 and "60.00" in voucher.text

    used = await events(session, "letter_code.used")
    assert len(used) == 1 and used[0].actor_user_id == citizen_user_id

    again = await use_code(client, code)
    assert again.status_code == 401 and "not valid" in again.text
    assert "market_session" not in client.cookies
    assert len(await events(session, "letter_code.refused")) == 1

    # the password now works for a normal sign-in
    user_email = re.search(r"<strong>([^<]+@[^<]+)</strong>", password_page.text).group(1)
    ok = await login(client, user_email, "my-new-password-1")
    assert ok.status_code == 303


async def test_reissue_invalidates_the_old_code_and_expired_codes_are_refused(
    client, world, session, citizen
):
    citizen_id = citizen.id
    await login(client, "sagsbehandler@aarhus.dk")
    await post_form(client, f"/citizens/{citizen_id}/letter-code")
    first = await code_from((await client.get(f"/citizens/{citizen_id}/letter")).text)
    await post_form(client, f"/citizens/{citizen_id}/letter-code")
    second = await code_from((await client.get(f"/citizens/{citizen_id}/letter")).text)
    assert first != second
    assert len(await events(session, "letter_code.issued")) == 2

    old = await use_code(client, first)
    assert old.status_code == 401 and "not valid" in old.text

    await session.execute(
        update(LetterCode)
        .where(LetterCode.replaced_at.is_(None))
        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    expired = await post_form(client, "/letter-code", {"code": second})
    assert expired.status_code == 401 and "expired" in expired.text
    refused = await events(session, "letter_code.refused")
    assert len(refused) == 2 and all('"reason":"not_authenticated"' in e.data_json for e in refused)
    nonsense = await post_form(client, "/letter-code", {"code": "ZZZZ-ZZZZ"})
    assert nonsense.status_code == 401


async def test_proxy_is_linked_sees_the_voucher_and_loses_access_when_unlinked(
    client, world, session, citizen, case_worker, monday
):
    await make_grant(session, case_worker, citizen, monday, copayment_ore=5500)
    await session.commit()
    citizen_id, citizen_user_id = citizen.id, citizen.user_id
    await login(client, "sagsbehandler@aarhus.dk")
    linked = await post_form(
        client,
        f"/citizens/{citizen_id}/proxies/new",
        {"full_name": "Mette Jensen", "email": "mette@example.dk", "relation": "Daughter"},
    )
    assert linked.status_code == 201
    code = re.search(r"<strong>([A-Z0-9]{4}-[A-Z0-9]{4})</strong>", linked.text).group(1)
    link_id = (await session.execute(select(ProxyLink))).scalars().one().id
    twice = await post_form(
        client,
        f"/citizens/{citizen_id}/proxies/new",
        {"full_name": "Mette Jensen", "email": "mette@example.dk"},
    )
    assert twice.status_code == 422 and "already linked" in twice.text

    assert (await use_code(client, code)).status_code == 303
    page = await client.get("/my-voucher")
    assert page.status_code == 200 and "Karen Jensen" in page.text and "55.00" in page.text

    client.cookies.clear()
    await login(client, "sagsbehandler@aarhus.dk")
    unlinked = await post_form(client, f"/citizens/{citizen_id}/proxies/{link_id}/unlink")
    assert unlinked.status_code == 303
    assert (await events(session, "proxy.unlinked"))[-1].on_behalf_of_user_id == citizen_user_id
    assert (await use_code(client, code)).status_code == 401  # used already
    # the proxy is no longer linked to anyone
    proxy = (
        await session.execute(select(User).where(User.email == "mette@example.dk"))
    ).scalar_one()
    view = await service.my_voucher(session, actor=auth_service.actor_for(proxy))
    assert view.citizen is None and view.choices == []


async def test_citizen_sees_units_left_and_what_they_pay(
    client, world, session, caps, case_worker, monday
):

    citizen = await make_citizen(
        session, case_worker, cpr="010150-2222", email="borger2@example.dk"
    )
    grant = await make_grant(
        session, case_worker, citizen, service.today_in_copenhagen(), weeks=6, copayment_ore=6100
    )
    await service.reserve(
        session,
        grant_id=grant.id,
        delivery_on=monday,
        units=2,
        idempotency_key="p1",
        actor=case_worker,
    )

    await session.execute(
        update(User)
        .where(User.id == citizen.user_id)
        .values(password_hash=hash_password("borger-password"))
    )
    await login(client, "borger2@example.dk", "borger-password")
    page = await client.get("/my-voucher")
    assert page.status_code == 200
    assert "61.00" in page.text and "This week" in page.text
    assert f"Week {service.week_number(service.iso_week_of(monday))}" in page.text
