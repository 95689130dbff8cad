"""The JSON API under /api/v1: the same rules as the pages, answered in JSON."""

from datetime import timedelta

from sqlalchemy import func, select, update

from market.audit.models import AuditEvent
from market.auth.models import User
from market.auth.security import hash_password
from tests.factories import api_headers, login
from tests.vouchers.conftest import ledger_snapshot, make_citizen, make_grant
from vouchers import service
from vouchers.models import Citizen, VoucherGrant


async def count(session, model) -> int:
    return (await session.execute(select(func.count()).select_from(model))).scalar_one()


CITIZEN = {
    "full_name": "Aase Nielsen",
    "cpr": "1203401234",
    "address": "Vestergade 4",
    "postal_code": "8200",
    "allergies": ["eggs"],
    "diet_form": "pureed",
}


async def test_citizen_and_grant_through_the_api(client, world, session, caps, monday):
    await login(client, "sagsbehandler@aarhus.dk")
    headers = api_headers(client)
    created = await client.post("/api/v1/citizens", json=CITIZEN, headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["cpr_masked"] == "120340-****" and "cpr" not in body
    citizen_id = body["id"]

    found = await client.post("/api/v1/citizens/search", json={"q": "120340-1234"}, headers=headers)
    assert [c["id"] for c in found.json()] == [citizen_id]
    assert (await client.get("/api/v1/citizens", params={"q": "aase"})).json()[0][
        "id"
    ] == citizen_id

    grant = await client.post(
        f"/api/v1/citizens/{citizen_id}/grants",
        json={
            "units_per_week": 7,
            "valid_from": monday.isoformat(),
            "valid_to": (monday + timedelta(days=60)).isoformat(),
            "copayment_ore": 6500,
            "diet_form": "pureed",
        },
        headers=headers,
    )
    assert grant.status_code == 201, grant.text
    assert grant.json()["status"] == "active" and grant.json()["copayment_ore"] == 6500

    record = await client.get(f"/api/v1/citizens/{citizen_id}", headers=headers)
    assert record.status_code == 200
    assert record.json()["has_password"] is False and len(record.json()["grants"]) == 1
    viewed = (
        (await session.execute(select(AuditEvent).where(AuditEvent.action == "citizen.viewed")))
        .scalars()
        .all()
    )
    assert viewed and all("1203401234" not in e.data_json for e in viewed)

    grant_id = grant.json()["id"]
    revoked = await client.post(
        f"/api/v1/grants/{grant_id}/revoke", json={"reason": "Died"}, headers=headers
    )
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    again = await client.post(
        f"/api/v1/grants/{grant_id}/revoke", json={"reason": "Twice"}, headers=headers
    )
    assert again.status_code == 409
    assert again.json() == {
        "error": "illegal_transition",
        "detail": "A voucher that is revoked cannot become revoked.",
    }

    code = await client.post(f"/api/v1/citizens/{citizen_id}/letter-code", headers=headers)
    assert code.status_code == 201
    assert len(code.json()["code"]) == 9 and code.json()["code"][4] == "-"
    assert code.json()["url"].endswith("/letter-code?code=" + code.json()["code"])


async def test_bad_input_is_422_with_a_sentence_and_changes_nothing(
    client, world, session, citizen, monday
):
    citizen_id = citizen.id
    await login(client, "sagsbehandler@aarhus.dk")
    headers = api_headers(client)
    citizens_before = await count(session, Citizen)
    bad_cpr = await client.post(
        "/api/v1/citizens", json={**CITIZEN, "cpr": "310245-1234"}, headers=headers
    )
    assert bad_cpr.status_code == 422 and "DDMMYY-SSSS" in bad_cpr.json()["detail"]
    assert await count(session, Citizen) == citizens_before

    good = {
        "units_per_week": 7,
        "valid_from": monday.isoformat(),
        "valid_to": (monday + timedelta(days=30)).isoformat(),
        "copayment_ore": 6000,
    }
    before = await ledger_snapshot(session)
    for change, sentence in [
        ({"copayment_ore": 6501}, "is more than the cap of 65,00 kr."),
        ({"units_per_week": 0}, "Units per week must be at least 1."),
        ({"valid_to": (monday - timedelta(days=3)).isoformat()}, "must end on or after"),
        ({"copayment_ore": -1}, "cannot be negative"),
    ]:
        response = await client.post(
            f"/api/v1/citizens/{citizen_id}/grants", json={**good, **change}, headers=headers
        )
        assert response.status_code == 422, response.text
        assert sentence in response.json()["detail"]
    assert await ledger_snapshot(session) == before
    assert await count(session, VoucherGrant) == 0


async def test_scoping_and_permissions(client, world, session, citizen):
    citizen_id = citizen.id
    await login(client, "admin@odense.dk")
    response = await client.get(f"/api/v1/citizens/{citizen_id}", headers=api_headers(client))
    assert response.status_code == 404
    await login(client, "revisor@aarhus.dk")
    denied = await client.post(
        f"/api/v1/citizens/{citizen_id}/letter-code", headers=api_headers(client)
    )
    assert denied.status_code == 403


async def test_copayment_caps_are_set_by_the_municipal_admin(client, world, session, caps):
    await login(client, "sagsbehandler@aarhus.dk")
    assert (
        await client.put(
            "/api/v1/copayment-caps/2030", json={"cap_ore": 7000}, headers=api_headers(client)
        )
    ).status_code == 403
    await login(client, "admin@aarhus.dk")
    set_cap = await client.put(
        "/api/v1/copayment-caps/2030", json={"cap_ore": 7000}, headers=api_headers(client)
    )
    assert set_cap.status_code == 200 and set_cap.json() == {"year": 2030, "cap_ore": 7000}
    caps_now = (await client.get("/api/v1/copayment-caps")).json()
    assert {"year": 2024, "cap_ore": 6100} in caps_now and {
        "year": 2030,
        "cap_ore": 7000,
    } in caps_now


async def test_my_voucher_for_a_proxy_with_two_citizens(
    client, world, session, caps, case_worker, monday
):

    first = await make_citizen(session, case_worker, cpr="010130-1111", name="Bent Olsen")
    second = await make_citizen(session, case_worker, cpr="020230-2222", name="Birte Olsen")
    await make_grant(session, case_worker, first, monday, copayment_ore=4000)
    for c in (first, second):
        await service.link_proxy(
            session,
            actor=case_worker,
            settings=client._transport.app.state.settings,
            citizen_id=c.id,
            full_name="Søren Olsen",
            email="soeren@example.dk",
        )
    first_id = first.id

    await session.execute(
        update(User)
        .where(User.email == "soeren@example.dk")
        .values(password_hash=hash_password("proxy-password"))
    )
    await session.commit()
    await login(client, "soeren@example.dk", "proxy-password")
    choose = (await client.get("/api/v1/my-voucher")).json()
    assert choose["citizen_id"] is None
    assert sorted(c["full_name"] for c in choose["choices"]) == ["Bent Olsen", "Birte Olsen"]
    mine = (await client.get("/api/v1/my-voucher", params={"citizen": first_id})).json()
    assert mine["copayment_ore"] == 4000 and mine["weeks"][0]["units_left"] >= 0
    assert len(mine["weeks"]) == 4
    page = await client.get("/my-voucher")
    assert "Bent Olsen" in page.text and "Birte Olsen" in page.text
    other = await client.get("/api/v1/my-voucher", params={"citizen": 999999})
    assert other.status_code == 404
