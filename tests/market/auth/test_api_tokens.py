from sqlalchemy import select

from market.auth.models import ApiToken
from tests.factories import login, post_form


async def test_provider_admin_creates_uses_and_revokes_a_token(client, app, world, session):
    await login(client, "chef@godekoekken.dk")
    created = await post_form(
        client, "/account/api-tokens", {"name": "Køkkensystem", "scopes": ["kitchen.orders"]}
    )
    assert created.status_code == 201
    secret = created.text.split('<code class="token">')[1].split("</code>")[0]
    assert secret.startswith("vm_")
    stored = (await session.execute(select(ApiToken))).scalars().one()
    token_id = stored.id
    assert stored.token_hash != secret and secret not in stored.token_hash  # only the hash is kept

    import httpx

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as system:
        headers = {"Authorization": f"Bearer {secret}"}
        # The token acts as its provider admin: allowed where that role is, refused elsewhere.
        assert (await system.get("/api/v1/audit/verify", headers=headers)).status_code == 403
        await post_form(client, f"/account/api-tokens/{token_id}/revoke")
        refused = await system.get("/api/v1/audit/verify", headers=headers)
        assert refused.status_code == 401
        assert "unknown or revoked" in refused.json()["detail"]


async def test_staff_cannot_create_tokens(client, world):
    await login(client, "kok@godekoekken.dk")
    response = await post_form(client, "/account/api-tokens", {"name": "x"})
    assert response.status_code == 403
