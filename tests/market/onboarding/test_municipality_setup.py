"""A platform admin sets a municipality up on a page; its profile is changed
later on a page, audited; a refused field leaves nothing behind."""

from sqlalchemy import func, select

from market.audit.models import AuditEvent
from market.municipalities.models import Municipality, MunicipalityPostalCode
from tests.factories import login, post_form
from vouchers.models import CopaymentCap

FORM = {
    "code": "0746",
    "name": "Skanderborg Kommune",
    "postal_codes": "8660 Skanderborg\r\n8680 Ry\r\n",
    "contact_phone": "+45 87 94 70 00",
    "opening_hours": "Hverdage 8–15",
    "oncall_email": "Vagt@Skanderborg.example",
    "require_staff_totp": "yes",
    "charge_when_absent": "yes",
    "cap_year": "2027",
    "cap": "61,00",
    "iban": "DK50 0040 0440 1162 43",
    "bic": "DABADKKK",
}


async def _municipality(session, code: str) -> Municipality | None:
    return (
        await session.execute(
            select(Municipality)
            .where(Municipality.code == code)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def test_a_platform_admin_sets_up_a_municipality_with_every_setting(client, world, session):
    await login(client, "platform@velfaerd.dk")
    assert (await client.get("/municipalities/new")).status_code == 200
    response = await post_form(client, "/municipalities/new", FORM)
    assert response.status_code == 303
    created = await _municipality(session, "0746")
    assert created is not None
    assert response.headers["location"] == f"/municipalities/{created.id}?done=created"
    assert (created.name, created.contact_phone, created.opening_hours) == (
        "Skanderborg Kommune",
        "+45 87 94 70 00",
        "Hverdage 8–15",
    )
    assert created.oncall_email == "vagt@skanderborg.example"
    assert created.require_staff_totp and created.charge_copayment_when_absent
    assert (created.payment_account_iban, created.payment_account_bic) == (
        "DK5000400440116243",
        "DABADKKK",
    )
    cap = await session.get(CopaymentCap, (created.id, 2027))
    assert cap is not None and cap.cap_ore == 6100
    codes = (
        await session.execute(
            select(MunicipalityPostalCode.postal_code, MunicipalityPostalCode.city).where(
                MunicipalityPostalCode.municipality_id == created.id
            )
        )
    ).all()
    assert sorted(codes) == [("8660", "Skanderborg"), ("8680", "Ry")]
    actions = (
        await session.execute(
            select(AuditEvent.action).where(AuditEvent.municipality_id == created.id)
        )
    ).scalars()
    assert {"municipality.created", "copayment_cap.set", "municipality.payment_account_set"} <= set(
        actions
    )
    listing = await client.get("/municipalities")
    assert "Skanderborg Kommune" in listing.text and "+45 87 94 70 00" in listing.text
    page = await client.get(f"/municipalities/{created.id}")
    assert page.status_code == 200 and "•••• 6243" in page.text


async def test_a_refused_field_leaves_nothing_behind(client, world, session):
    await login(client, "platform@velfaerd.dk")
    before = (await session.execute(select(func.count()).select_from(AuditEvent))).scalar_one()
    cases = {
        "code": ("751", 422),
        "postal_codes": ("Aarhus", 422),
        "contact_phone": ("ring", 422),
        "iban": ("DK00 1234", 422),
        "cap": ("mange", 422),
    }
    for field, (value, status) in cases.items():
        response = await post_form(client, "/municipalities/new", {**FORM, field: value})
        assert response.status_code == status, (field, response.status_code)
        assert 'role="alert"' in response.text
        # What was typed is kept.
        assert "Skanderborg Kommune" in response.text
    taken = await post_form(client, "/municipalities/new", {**FORM, "code": "0751"})
    assert taken.status_code == 409 and "0751" in taken.text
    assert await _municipality(session, "0746") is None
    after = (await session.execute(select(func.count()).select_from(AuditEvent))).scalar_one()
    assert after == before
    caps = (await session.execute(select(func.count()).select_from(CopaymentCap))).scalar_one()
    assert caps == 0


async def test_only_a_platform_admin_creates_municipalities(client, world):
    await login(client, "admin@aarhus.dk")
    assert (await client.get("/municipalities")).status_code == 403
    assert (await post_form(client, "/municipalities/new", FORM)).status_code == 403


async def test_a_municipal_admin_changes_their_own_profile_audited(client, world, session):
    aarhus, odense = world.municipality.id, world.other_municipality.id
    await login(client, "admin@aarhus.dk")
    form = {
        "name": "Aarhus Kommune",
        "postal_codes": "8000 Aarhus C\n8200 Aarhus N\n8210 Aarhus V\n8220 Brabrand\n8250 Egå",
        "contact_phone": "+45 89 40 20 00",
        "opening_hours": "Hverdage 8–15",
        "oncall_email": "",
    }
    assert (await client.get(f"/municipalities/{aarhus}")).status_code == 200
    saved = await post_form(client, f"/municipalities/{aarhus}", form)
    assert saved.status_code == 303
    municipality = await _municipality(session, "0751")
    assert municipality.contact_phone == "+45 89 40 20 00"
    event = (
        await session.execute(select(AuditEvent).where(AuditEvent.action == "municipality.updated"))
    ).scalar_one()
    assert '"8250"' in event.data_json and '"contact_phone"' in event.data_json
    # Saving the same again records nothing new.
    await post_form(client, f"/municipalities/{aarhus}", form)
    count = (
        await session.execute(
            select(func.count()).where(AuditEvent.action == "municipality.updated")
        )
    ).scalar_one()
    assert count == 1
    bad = await post_form(client, f"/municipalities/{aarhus}", {**form, "contact_phone": "x"})
    assert bad.status_code == 422
    assert (await client.get(f"/municipalities/{odense}")).status_code == 403
    assert (await post_form(client, f"/municipalities/{odense}", form)).status_code == 403


async def test_requiring_a_second_factor_leads_signed_in_staff_to_set_it_up(
    app, client, world, session
):
    import httpx

    aarhus = world.municipality.id
    form = {
        "name": "Aarhus Kommune",
        "postal_codes": "8000 Aarhus C\n8200 Aarhus N\n8210 Aarhus V\n8220 Brabrand",
        "contact_phone": "+45 89 40 20 00",
        "opening_hours": "Hverdage 8–15",
        "oncall_email": "",
        "require_staff_totp": "yes",
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as case_worker:
        await login(case_worker, "sagsbehandler@aarhus.dk")
        assert (await case_worker.get("/citizens")).status_code == 200
        await login(client, "admin@aarhus.dk")
        assert (await post_form(client, f"/municipalities/{aarhus}", form)).status_code == 303
        blocked = await case_worker.get("/citizens")
        assert blocked.status_code in (303, 401)
        setup = await case_worker.get("/login/second-factor")
        assert setup.headers["location"] == "/account/second-factor"
        # A citizen of the municipality is not staff: nothing changes for them.
        await login(case_worker, "borger@example.dk")
        assert (await case_worker.get("/my-voucher")).status_code != 401
