"""The JSON API: the same rules as the pages, answered as JSON."""

from collections import Counter
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from providers import service
from providers.models import Approval, EvidenceUpload, Provider
from tests.factories import api_headers, csrf, login
from tests.providers.conftest import PDF


@pytest.fixture
async def browser(app):
    """Opens further signed-in clients on the same app (one per person)."""
    clients: list[httpx.AsyncClient] = []

    async def open_as(email: str) -> httpx.AsyncClient:
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        clients.append(c)
        response = await login(c, email)
        assert response.status_code == 303
        c.headers.update(api_headers(c))
        return c

    yield open_as
    for c in clients:
        await c.aclose()


REQUIREMENTS = [
    {"key": "smiley", "title": "Elite smiley", "kind": "attestation"},
    {
        "key": "cold-chain",
        "title": "Cold chain",
        "kind": "numeric_threshold",
        "unit": "°C",
        "max_value": 5,
    },
    {"key": "allergens", "title": "Allergen procedure", "kind": "document"},
    {
        "key": "insurance",
        "title": "Insurance",
        "kind": "numeric_threshold",
        "unit": "kr",
        "min_value": "5000000",
        "mandatory": False,
    },
]


async def publish_via_api(admin: httpx.AsyncClient) -> tuple[int, dict[str, int]]:
    created = await admin.post("/api/v1/standards", json={"title": "Madservice"})
    assert created.status_code == 201, created.text
    standard_id = created.json()["id"]
    ids = {}
    for body in REQUIREMENTS:
        response = await admin.post(f"/api/v1/standards/{standard_id}/requirements", json=body)
        assert response.status_code == 201, response.text
        ids[body["key"]] = response.json()["id"]
    published = await admin.post(f"/api/v1/standards/{standard_id}/publish", json={})
    assert published.status_code == 200 and published.json()["status"] == "published"
    return standard_id, ids


async def test_full_flow_through_the_api(browser, session, world):
    aarhus_id = world.municipality.id  # a refused request expires loaded rows
    admin = await browser("admin@aarhus.dk")
    provider = await browser("chef@godekoekken.dk")
    standard_id, ids = await publish_via_api(admin)

    edit = await admin.post(
        f"/api/v1/standards/{standard_id}/requirements",
        json={"key": "late", "title": "Late", "kind": "attestation"},
    )
    assert edit.status_code == 409 and edit.json()["error"] == "conflict"

    started = await provider.post("/api/v1/applications", json={"municipality_id": aarhus_id})
    assert started.status_code == 201, started.text
    application_id = started.json()["id"]
    evidence = await provider.put(
        f"/api/v1/applications/{application_id}/evidence",
        json={
            "evidence": [
                {"requirement_id": ids["smiley"], "attested": True, "statement": "Elite"},
                {"requirement_id": ids["cold-chain"], "value": 6},
            ]
        },
    )
    assert evidence.status_code == 200
    cold = next(e for e in evidence.json()["evidence"] if e["requirement_id"] == ids["cold-chain"])
    assert cold["meets_threshold"] is False

    upload = await provider.post(
        f"/api/v1/applications/{application_id}/uploads",
        data={"requirement_id": str(ids["allergens"])},
        files={"file": ("procedure.pdf", PDF, "application/octet-stream")},
    )
    assert upload.status_code == 201, upload.text
    assert upload.json()["content_type"] == "application/pdf"
    download = await provider.get(upload.json()["url"])
    assert download.status_code == 200 and download.content == PDF

    refused = await provider.post(f"/api/v1/applications/{application_id}/submit")
    assert refused.status_code == 409
    assert "“Cold chain” is mandatory and 6 °C does not meet it" in refused.json()["detail"]

    await provider.put(
        f"/api/v1/applications/{application_id}/evidence",
        json={"evidence": [{"requirement_id": ids["cold-chain"], "value": "4,5"}]},
    )
    submitted = await provider.post(f"/api/v1/applications/{application_id}/submit")
    assert submitted.status_code == 200 and submitted.json()["status"] == "submitted"

    queue = await admin.get("/api/v1/applications")
    assert [a["id"] for a in queue.json()] == [application_id]

    decided = await admin.put(
        f"/api/v1/applications/{application_id}/decisions",
        json={"decisions": [{"requirement_id": i, "met": True} for i in ids.values()]},
    )
    assert decided.status_code == 200 and len(decided.json()["reviews"]) == 4
    today = service.today()
    approved = await admin.post(
        f"/api/v1/applications/{application_id}/approve",
        json={
            "valid_from": today.isoformat(),
            "valid_to": (today + timedelta(days=365)).isoformat(),
            "service_area": "8000 8220",
            "daily_capacity": 80,
            "unit_price": "92.50",
        },
    )
    assert approved.status_code == 201, approved.text
    body = approved.json()
    assert body["unit_price_ore"] == 9250
    assert body["service_area"] == ["8000", "8220"]
    assert body["effective_status"] == "active"
    approval_id = body["id"]

    mine = await provider.get("/api/v1/approvals")
    assert [a["id"] for a in mine.json()] == [approval_id]

    for move, status in (("suspend", "suspended"), ("reinstate", "active"), ("revoke", "revoked")):
        response = await admin.post(
            f"/api/v1/approvals/{approval_id}/{move}", json={"reason": f"Reason to {move}"}
        )
        assert response.status_code == 200 and response.json()["status"] == status
    again = await admin.post(
        f"/api/v1/approvals/{approval_id}/reinstate", json={"reason": "Try again"}
    )
    assert again.status_code == 409
    assert again.json() == {
        "error": "illegal_transition",
        "detail": "An approval that is revoked cannot be reinstated.",
    }

    directory = await admin.get("/api/v1/providers")
    assert directory.json()[0]["approvals"][0]["effective_status"] == "revoked"


async def test_register_through_the_api(client, session, world):
    await csrf(client)
    body = {
        "name": "Køkkenet på Havnen I/S",
        "cvr": "12345674",
        "address": "Havnegade 2",
        "postal_code": "5000",
        "city": "Odense C",
        "contact_name": "Hans Havn",
        "contact_email": "hans@havnen.dk",
        "contact_phone": "66 11 22 33",
        "admin_email": "hans@havnen.dk",
        "admin_full_name": "Hans Havn",
        "admin_password": "kodeord-med-laengde",
    }
    bad = await client.post(
        "/api/v1/providers", json={**body, "cvr": "12345675"}, headers=api_headers(client)
    )
    assert bad.status_code == 422
    assert bad.json()["error"] == "invalid_input"
    assert "12345675 is not a valid CVR number" in bad.json()["detail"]
    assert (await session.execute(select(func.count()).select_from(Provider))).scalar_one() == 1

    created = await client.post("/api/v1/providers", json=body, headers=api_headers(client))
    assert created.status_code == 201, created.text
    assert created.json()["provider"]["cvr"] == "12345674"


async def test_upload_of_wrong_type_through_api_is_415(browser, session, world, settings):
    admin = await browser("admin@aarhus.dk")
    _, ids = await publish_via_api(admin)
    provider = await browser("chef@godekoekken.dk")
    started = await provider.post(
        "/api/v1/applications", json={"municipality_id": world.municipality.id}
    )
    response = await provider.post(
        f"/api/v1/applications/{started.json()['id']}/uploads",
        data={"requirement_id": str(ids["allergens"])},
        files={"file": ("procedure.pdf", b"<html>not a pdf</html>", "application/pdf")},
    )
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"
    assert (
        await session.execute(select(func.count()).select_from(EvidenceUpload))
    ).scalar_one() == 0


async def test_other_municipality_gets_404_from_the_api(browser, session, world):
    admin = await browser("admin@aarhus.dk")
    await publish_via_api(admin)
    provider = await browser("chef@godekoekken.dk")
    started = await provider.post(
        "/api/v1/applications", json={"municipality_id": world.municipality.id}
    )
    application_id = started.json()["id"]
    odense = await browser("admin@odense.dk")
    assert (await odense.get(f"/api/v1/applications/{application_id}")).status_code == 404
    reject = await odense.post(
        f"/api/v1/applications/{application_id}/reject", json={"reason": "Nej"}
    )
    assert reject.status_code == 404
    assert (await odense.get("/api/v1/applications")).json() == []
    assert (await session.execute(select(func.count()).select_from(Approval))).scalar_one() == 0


async def test_bearer_token_works_without_csrf(app, browser, world):
    municipality_id = world.municipality.id
    admin = await browser("admin@aarhus.dk")
    await publish_via_api(admin)
    provider = await browser("chef@godekoekken.dk")
    issued = await provider.post(
        "/account/api-tokens",
        data={
            "name": "Køkkensystem",
            "scopes": ["kitchen.orders"],
            "csrf_token": provider.cookies["market_csrf"],
        },
    )
    assert issued.status_code == 201
    token = issued.text.split('<code class="token">')[1].split("</code>")[0]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as system:
        # Past the CSRF and permission checks (a 403 otherwise): no such order.
        response = await system.post(
            "/api/v1/kitchen/orders/999999/accept",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 404, response.text
        # Applying for approval is outside a kitchen token's scope.
        refused = await system.post(
            "/api/v1/applications",
            json={"municipality_id": municipality_id},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert refused.status_code == 403, refused.text


async def test_openapi_is_clean(client):
    schema = (await client.get("/openapi.json")).json()
    operations = [
        (path, method, op)
        for path, methods in schema["paths"].items()
        for method, op in methods.items()
    ]
    ids = Counter(op["operationId"] for _, _, op in operations)
    assert [i for i, n in ids.items() if n > 1] == []
    ours = [(p, m, op) for p, m, op in operations if "providers" in op.get("tags", [])]
    assert len(ours) >= 20
    for path, method, op in ours:
        success = [code for code in op["responses"] if code.startswith("2")]
        assert success, (path, method)
        if success != ["204"]:
            assert "content" in op["responses"][success[0]], (path, method)
