import re

from sqlalchemy import func, select

from market.auth.models import User
from providers import service
from providers.models import (
    Application,
    ApplicationStatus,
    Approval,
    ApprovalStatus,
    ContractTerms,
    Provider,
    QualityStandard,
    Requirement,
    StandardStatus,
)
from tests.factories import csrf, login, post_form
from tests.providers.conftest import (
    PDF,
    actor,
    approved,
    submitted_application,
)

REGISTRATION = {
    "name": "Madhuset Østjylland ApS",
    "cvr": "35408002",
    "address": "Industrivej 4",
    "postal_code": "8000",
    "city": "Aarhus C",
    "contact_name": "Mette Madsen",
    "contact_email": "kontakt@madhuset.dk",
    "contact_phone": "+45 86 12 34 56",
    "admin_email": "mette@madhuset.dk",
    "admin_full_name": "Mette Madsen",
    "admin_password": "langt-kodeord-123",
}


async def count(session, model) -> int:
    return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_register_apply_review_approve_and_portal_shows_it(
    client, session, world, aarhus_standard
):
    std = aarhus_standard
    page = await client.get("/providers/register")
    assert page.status_code == 200 and 'name="cvr"' in page.text
    registered = await post_form(client, "/providers/register", REGISTRATION)
    assert registered.status_code == 303 and registered.headers["location"] == "/provider"

    portal = await client.get("/provider")
    assert portal.status_code == 200
    assert "Apply to Aarhus Kommune" in portal.text

    started = await post_form(
        client, "/provider/applications", {"municipality_id": str(world.municipality.id)}
    )
    assert started.status_code == 303
    url = started.headers["location"]
    application_id = int(url.rsplit("/", 1)[1])

    form = await client.get(url)
    assert f'name="attested_{std.attestation.id}"' in form.text
    assert f'name="document_{std.allergens.id}"' in form.text

    saved = await post_form(
        client,
        url,
        {
            f"attested_{std.attestation.id}": "yes",
            f"statement_{std.attestation.id}": "Elite-smiley siden 2019",
            f"statement_{std.cold_chain.id}": "",
            f"value_{std.cold_chain.id}": "4",
            f"statement_{std.allergens.id}": "",
            f"statement_{std.insurance.id}": "",
            f"value_{std.insurance.id}": "5.000.000",
            "action": "submit",
        },
        files={f"document_{std.allergens.id}": ("allergener.pdf", PDF, "application/pdf")},
    )
    assert saved.status_code == 303, saved.text
    shown = await client.get(saved.headers["location"])
    assert "Submitted, awaiting review" in shown.text
    assert "allergener.pdf" in shown.text

    await login(client, "admin@aarhus.dk")
    queue = await client.get("/applications")
    assert "Madhuset Østjylland ApS" in queue.text
    review = await client.get(f"/applications/{application_id}")
    assert review.status_code == 200 and "Elite-smiley siden 2019" in review.text
    decisions = {
        f"decision_{r.id}": "met"
        for r in (std.attestation, std.cold_chain, std.allergens, std.insurance)
    }
    decided = await post_form(client, f"/applications/{application_id}/decisions", decisions)
    assert decided.status_code == 303
    approved_page = await post_form(
        client,
        f"/applications/{application_id}/approve",
        {
            "valid_from": service.today().isoformat(),
            "valid_to": service.today().replace(year=service.today().year + 1).isoformat(),
            "service_area": "8000, 8200",
            "daily_capacity": "150",
            "unit_price": "85,00",
        },
    )
    assert approved_page.status_code == 303, approved_page.text
    approval = (
        await session.execute(select(Approval).where(Approval.application_id == application_id))
    ).scalar_one()
    terms = (
        await session.execute(select(ContractTerms).where(ContractTerms.approval_id == approval.id))
    ).scalar_one()
    assert terms.unit_price_ore == 8500

    directory = await client.get("/providers")
    assert "Madhuset Østjylland ApS" in directory.text and "Active" in directory.text

    await login(client, "mette@madhuset.dk", "langt-kodeord-123")
    portal = await client.get("/provider")
    assert "Active" in portal.text
    assert "85.00 kr." in portal.text
    assert "8000, 8200" in portal.text


async def test_invalid_cvr_rerenders_form_with_422_and_writes_nothing(client, session, world):
    await csrf(client)
    response = await post_form(client, "/providers/register", {**REGISTRATION, "cvr": "12345678"})
    assert response.status_code == 422
    assert "12345678 is not a valid CVR number" in response.text
    assert 'value="Madhuset Østjylland ApS"' in response.text  # what was typed is kept
    assert await count(session, Provider) == 1
    assert (
        await session.execute(select(User).where(User.email == "mette@madhuset.dk"))
    ).scalar_one_or_none() is None
    assert "market_session" not in client.cookies


async def test_duplicate_cvr_is_409(client, session, world):
    await csrf(client)
    response = await post_form(
        client, "/providers/register", {**REGISTRATION, "cvr": world.provider.cvr}
    )
    assert response.status_code == 409
    assert "already registered" in response.text
    assert await count(session, Provider) == 1


async def test_taken_email_leaves_no_provider_behind(client, session, world):
    await csrf(client)
    response = await post_form(
        client, "/providers/register", {**REGISTRATION, "admin_email": "admin@aarhus.dk"}
    )
    assert response.status_code == 409
    assert "already exists" in response.text
    assert await count(session, Provider) == 1


async def test_unknown_postal_code_on_approval_is_422_and_writes_nothing(
    client, session, world, aarhus_standard, settings
):
    application = await submitted_application(session, world, aarhus_standard, settings)
    await session.commit()
    await login(client, "admin@aarhus.dk")
    decisions = {
        f"decision_{r.id}": "met"
        for r in (
            aarhus_standard.attestation,
            aarhus_standard.cold_chain,
            aarhus_standard.allergens,
            aarhus_standard.insurance,
        )
    }
    await post_form(client, f"/applications/{application.id}/decisions", decisions)
    response = await post_form(
        client,
        f"/applications/{application.id}/approve",
        {
            "valid_from": "2026-01-01",
            "valid_to": "2026-12-31",
            "service_area": "8000 5000",
            "daily_capacity": "100",
            "unit_price": "85,00",
        },
    )
    assert response.status_code == 422
    assert "Postal code 5000 is not served by Aarhus Kommune" in response.text
    assert 'value="8000 5000"' in response.text
    assert await count(session, Approval) == 0
    await session.refresh(application)
    assert application.status == ApplicationStatus.SUBMITTED


async def test_approve_with_unmet_mandatory_requirement_is_409(
    client, session, world, aarhus_standard, settings
):
    application = await submitted_application(session, world, aarhus_standard, settings)
    await session.commit()
    await login(client, "admin@aarhus.dk")
    await post_form(
        client,
        f"/applications/{application.id}/decisions",
        {
            f"decision_{aarhus_standard.attestation.id}": "not_met",
            f"comment_{aarhus_standard.attestation.id}": "Smiley mangler",
        },
    )
    response = await post_form(
        client,
        f"/applications/{application.id}/approve",
        {
            "valid_from": "2026-01-01",
            "valid_to": "2026-12-31",
            "service_area": "8000",
            "daily_capacity": "100",
            "unit_price": "85,00",
        },
    )
    assert response.status_code == 409
    assert "“Food-safety approval (smiley)” is not met" in response.text
    assert await count(session, Approval) == 0


async def test_submission_with_unmet_mandatory_threshold_keeps_draft_and_typing(
    client, session, world, aarhus_standard
):
    await login(client, "chef@godekoekken.dk")
    started = await post_form(
        client, "/provider/applications", {"municipality_id": str(world.municipality.id)}
    )
    url = started.headers["location"]
    std = aarhus_standard
    response = await post_form(
        client,
        url,
        {
            f"attested_{std.attestation.id}": "yes",
            f"statement_{std.attestation.id}": "Vi har elitesmiley",
            f"statement_{std.cold_chain.id}": "",
            f"value_{std.cold_chain.id}": "8",
            "action": "submit",
        },
    )
    assert response.status_code == 409
    assert "“Cold chain” is mandatory and 8 °C does not meet it (at most 5 °C)" in response.text
    assert "Vi har elitesmiley" in response.text
    application = (await session.execute(select(Application))).scalar_one()
    assert application.status == ApplicationStatus.DRAFT


async def test_other_municipality_gets_404(client, session, world, aarhus_standard, settings):
    approval = await approved(session, world, aarhus_standard, settings)
    await session.commit()
    # A refused request rolls the shared session back and expires loaded rows.
    approval_id, application_id = approval.id, approval.application_id
    provider_id = approval.provider_id
    await login(client, "admin@odense.dk")
    assert (await client.get(f"/applications/{application_id}")).status_code == 404
    assert (await client.get(f"/providers/{provider_id}")).status_code == 404
    response = await post_form(
        client,
        f"/approvals/{approval_id}/suspend",
        {"provider_id": str(provider_id), "reason": "x"},
    )
    assert response.status_code == 404
    await session.refresh(approval)
    assert approval.status == ApprovalStatus.ACTIVE
    assert "Det Gode Køkken" not in (await client.get("/providers")).text


async def test_reinstating_a_revoked_approval_is_409(
    client, session, world, aarhus_standard, settings
):
    approval = await approved(session, world, aarhus_standard, settings)
    await service.revoke_approval(
        session, actor=actor(world, "admin"), approval_id=approval.id, reason="Svig"
    )
    await session.commit()
    approval_id, provider_id = approval.id, str(approval.provider_id)
    await login(client, "admin@aarhus.dk")
    response = await post_form(
        client,
        f"/approvals/{approval_id}/reinstate",
        {"provider_id": provider_id, "reason": "Fejl"},
    )
    assert response.status_code == 409
    assert "An approval that is revoked cannot be reinstated." in response.text
    await session.refresh(approval)
    assert approval.status == ApprovalStatus.REVOKED


async def test_suspend_through_the_provider_page(client, session, world, aarhus_standard, settings):
    approval = await approved(session, world, aarhus_standard, settings)
    await session.commit()
    approval_id, provider_id = approval.id, str(approval.provider_id)
    await login(client, "admin@aarhus.dk")
    page = await client.get(f"/providers/{provider_id}")
    assert f'action="/approvals/{approval_id}/suspend"' in page.text
    missing = await post_form(
        client, f"/approvals/{approval_id}/suspend", {"provider_id": provider_id}
    )
    assert missing.status_code == 422 and "give a reason" in missing.text
    done = await post_form(
        client,
        f"/approvals/{approval_id}/suspend",
        {"provider_id": provider_id, "reason": "Kritisk tilsynsrapport"},
    )
    assert done.status_code == 303
    page = await client.get(done.headers["location"])
    assert "Suspended" in page.text and "Kritisk tilsynsrapport" in page.text


async def test_standard_editing_and_publishing_through_pages(client, session, world):
    await login(client, "admin@aarhus.dk")
    created = await post_form(
        client, "/standards", {"service": "madservice", "title": "Madservice 2027"}
    )
    assert created.status_code == 303
    url = created.headers["location"]
    added = await post_form(
        client,
        f"{url}/requirements",
        {
            "key": "cold-chain",
            "title": "Cold chain",
            "kind": "numeric_threshold",
            "mandatory": "yes",
            "unit": "°C",
            "max_value": "5",
        },
    )
    assert added.status_code == 303
    bad = await post_form(
        client,
        f"{url}/requirements",
        {"key": "x", "title": "X", "kind": "numeric_threshold", "mandatory": "yes", "unit": "kr"},
    )
    assert bad.status_code == 422 and "minimum, a maximum or both" in bad.text
    published = await post_form(client, f"{url}/publish", {"reapply_by": ""})
    assert published.status_code == 303
    standard = (await session.execute(select(QualityStandard))).scalar_one()
    assert standard.status == StandardStatus.PUBLISHED
    assert await count(session, Requirement) == 1
    edit = await post_form(
        client,
        f"{url}/requirements",
        {"key": "late", "title": "Late", "kind": "attestation", "mandatory": "yes"},
    )
    assert edit.status_code == 409
    assert "published cannot be changed" in edit.text
    assert await count(session, Requirement) == 1
    listing = await client.get("/standards")
    assert "Madservice 2027" in listing.text and "Published" in listing.text


async def test_pages_need_the_right_role(client, world):
    await login(client, "borger@example.dk")
    assert (await client.get("/standards")).status_code == 403
    assert (await client.get("/applications")).status_code == 403
    await login(client, "admin@aarhus.dk")
    assert (await client.get("/provider")).status_code == 403


async def test_every_page_has_one_h1_and_labelled_inputs(
    client, session, world, aarhus_standard, settings
):
    approval = await approved(session, world, aarhus_standard, settings)
    second = await submitted_application(session, world, aarhus_standard, settings)
    await session.commit()
    pages = {}
    pages["register"] = (await client.get("/providers/register")).text
    await login(client, "chef@godekoekken.dk")
    pages["portal"] = (await client.get("/provider")).text
    pages["details"] = (await client.get("/provider/details")).text
    pages["application"] = (await client.get(f"/provider/applications/{second.id}")).text
    await login(client, "admin@aarhus.dk")
    pages["standards"] = (await client.get("/standards")).text
    pages["standard"] = (await client.get(f"/standards/{aarhus_standard.standard.id}")).text
    pages["queue"] = (await client.get("/applications")).text
    pages["review"] = (await client.get(f"/applications/{second.id}")).text
    pages["directory"] = (await client.get("/providers")).text
    pages["provider"] = (await client.get(f"/providers/{approval.provider_id}")).text
    for name, html in pages.items():
        assert html.count("<h1") == 1, name
        ids = set(re.findall(r'<label for="([^"]+)"', html))
        for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
            if 'type="hidden"' in tag:
                continue
            found = re.search(r'\bid="([^"]+)"', tag)
            assert found and found.group(1) in ids, (name, tag)
        assert "<th>" not in html, name  # every header cell has a scope


async def test_new_version_through_pages_asks_approved_provider_to_reapply(
    client, session, world, aarhus_standard, settings
):
    approval = await approved(session, world, aarhus_standard, settings)
    await session.commit()
    approval_id, old_insurance_id = approval.id, aarhus_standard.insurance.id
    await login(client, "admin@aarhus.dk")
    created = await post_form(client, "/standards", {"service": "madservice", "title": "v2"})
    url = created.headers["location"]
    page = await client.get(url)
    assert "Food-safety approval (smiley)" in page.text  # copied from version 1
    cold_chain = (
        await session.execute(
            select(Requirement).where(
                Requirement.standard_id == int(url.rsplit("/", 1)[1]),
                Requirement.key == "cold-chain",
            )
        )
    ).scalar_one()
    edit_url = f"{url}/requirements/{cold_chain.id}"
    form = await client.get(edit_url)
    assert form.status_code == 200 and 'value="cold-chain"' in form.text
    changed = await post_form(
        client,
        edit_url,
        {
            "key": "cold-chain",
            "title": "Cold chain",
            "kind": "numeric_threshold",
            "mandatory": "yes",
            "unit": "°C",
            "max_value": "4",
        },
    )
    assert changed.status_code == 303
    removed = await post_form(
        client,
        f"{url}/requirements/{old_insurance_id}/delete",
    )
    assert removed.status_code == 404  # a requirement of version 1, not of this draft
    missing = await post_form(client, f"{url}/publish", {"reapply_by": ""})
    assert missing.status_code == 422 and "re-apply" in missing.text
    by = service.today().replace(year=service.today().year + 1)
    published = await post_form(client, f"{url}/publish", {"reapply_by": by.isoformat()})
    assert published.status_code == 303
    refreshed = await session.get(Approval, approval_id)
    await session.refresh(refreshed)
    assert refreshed.reapply_by == by
    assert "Superseded" in (await client.get("/standards")).text

    await login(client, "chef@godekoekken.dk")
    portal = await client.get("/provider")
    assert by.strftime("%Y") in portal.text and "Not asked" not in portal.text


async def test_provider_staff_reads_but_cannot_apply_and_other_provider_gets_404(
    client, session, world, aarhus_standard, settings
):
    from market.auth.models import Role
    from tests.factories import make_provider, make_user

    application = await submitted_application(session, world, aarhus_standard, settings)
    other = await make_provider(session, name="Konkurrenten ApS", cvr="12345674")
    await make_user(session, "chef@konkurrenten.dk", Role.PROVIDER_ADMIN, provider_id=other.id)
    await session.commit()
    application_id = application.id
    await login(client, "kok@godekoekken.dk")
    page = await client.get(f"/provider/applications/{application_id}")
    assert page.status_code == 200 and "Submitted, awaiting review" in page.text
    assert "Withdraw application" not in page.text
    portal = await client.get("/provider")
    assert portal.status_code == 200 and "Apply to" not in portal.text
    refused = await post_form(client, f"/provider/applications/{application_id}/withdraw")
    assert refused.status_code == 403

    await login(client, "chef@konkurrenten.dk")
    assert (await client.get(f"/provider/applications/{application_id}")).status_code == 404
    withdraw = await post_form(client, f"/provider/applications/{application_id}/withdraw")
    assert withdraw.status_code == 404

    await login(client, "chef@godekoekken.dk")
    withdrawn = await post_form(client, f"/provider/applications/{application_id}/withdraw")
    assert withdrawn.status_code == 303
    assert "Withdrawn" in (await client.get("/provider")).text
