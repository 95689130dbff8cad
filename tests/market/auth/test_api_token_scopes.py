"""A token carries only its scopes (never more than its user's role), expires,
and can never change money details, users or tokens, whatever its scopes."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update

from market.auth.models import ApiToken, Role
from market.auth.permissions import (
    NEVER_BY_TOKEN,
    ROLE_PERMISSIONS,
    SCOPES_FOR_ROLE,
    TOKEN_SCOPES,
    Actor,
    Permission,
    TokenScope,
)
from tests.factories import login, post_form

ALL_PROVIDER_SCOPES = ["kitchen.orders", "offers", "settlement.read"]


async def _token(client, email: str, scopes: list[str], days: str = "") -> str:
    await login(client, email)
    created = await post_form(
        client, "/account/api-tokens", {"name": "System", "scopes": scopes, "days": days}
    )
    assert created.status_code == 201, created.text
    client.cookies.clear()
    return created.text.split('<code class="token">')[1].split("</code>")[0]


def _system(app, secret: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {secret}"},
    )


def test_no_scope_grants_a_permission_that_changes_money_details_users_or_tokens():
    for scope, permissions in TOKEN_SCOPES.items():
        assert not permissions & NEVER_BY_TOKEN, scope
    assert {
        Permission.USER_MANAGE,
        Permission.API_TOKEN_MANAGE,
        Permission.PROVIDER_PROFILE_EDIT,
        Permission.PAYOUT_MANAGE,
        Permission.ACCOUNT_SELF,
    } <= NEVER_BY_TOKEN
    every_scope = frozenset(TokenScope)
    for role in Role:
        actor = Actor(user_id=1, role=role, full_name="x", token_scopes=every_scope)
        assert not any(actor.can(p) for p in NEVER_BY_TOKEN), role
        # A token never has more than its user's role.
        assert {p for p in Permission if actor.can(p)} <= ROLE_PERMISSIONS[role]


def test_finance_read_maps_to_the_read_permissions_of_the_finance_pages():
    finance = TOKEN_SCOPES[TokenScope.FINANCE_READ]
    assert {
        Permission.SETTLEMENT_VIEW,
        Permission.COPAYMENT_VIEW,
        Permission.PAYOUT_VIEW,
    } <= finance
    assert not finance & {Permission.SETTLEMENT_RUN, Permission.SETTLEMENT_APPROVE}
    assert SCOPES_FOR_ROLE[Role.MUNICIPAL_ADMIN] == (TokenScope.FINANCE_READ,)


async def test_a_kitchen_token_reads_orders_but_cannot_touch_money_users_or_tokens(
    app, client, world
):
    secret = await _token(client, "chef@godekoekken.dk", ["kitchen.orders"])
    async with _system(app, secret) as kitchen:
        assert (await kitchen.get("/api/v1/kitchen/orders")).status_code == 200
        # Outside its scope although the role could: offers.
        assert (await kitchen.get("/provider/offers")).status_code == 403


@pytest.mark.parametrize("scopes", [["kitchen.orders"], ALL_PROVIDER_SCOPES])
async def test_no_provider_token_changes_iban_stripe_account_profile_or_mints_tokens(
    app, client, world, session, scopes
):
    secret = await _token(client, "chef@godekoekken.dk", scopes)
    before = [t.id for t in (await session.execute(select(ApiToken))).scalars().all()]
    async with _system(app, secret) as system:
        iban = await system.post(
            "/provider/payout-details",
            data={"method": "bank_file", "iban": "DK5000400440116243", "bic": "DABADKKK"},
        )
        assert iban.status_code == 403
        stripe = await system.post(
            "/provider/payout-details",
            data={"method": "stripe", "stripe_account_id": "acct_1Evil"},
        )
        assert stripe.status_code == 403
        profile = await system.put(
            "/api/v1/providers/me",
            json={
                "name": "Evil",
                "address": "x",
                "postal_code": "8000",
                "city": "x",
                "contact_name": "x",
                "contact_email": "x@example.dk",
                "contact_phone": "12345678",
            },
        )
        assert profile.status_code == 403
        minted = await system.post("/account/api-tokens", data={"name": "more"})
        assert minted.status_code == 403
        listed = await system.get("/account/api-tokens")
        assert listed.status_code == 403
        revoke = await system.post(f"/account/api-tokens/{before[0]}/revoke")
        assert revoke.status_code == 403
        password = await system.post("/letter-code/password", data={"password": "x" * 12})
        assert password.status_code == 403
    after = (await session.execute(select(ApiToken))).scalars().all()
    assert [t.id for t in after] == before and all(t.revoked_at is None for t in after)


async def test_offers_token_reaches_offers_only(app, client, world):
    secret = await _token(client, "chef@godekoekken.dk", ["offers"])
    async with _system(app, secret) as system:
        assert (await system.get("/provider/offers")).status_code == 200
        assert (await system.get("/api/v1/kitchen/orders")).status_code == 403


async def test_municipal_admin_makes_a_read_only_finance_token(app, client, world):
    secret = await _token(client, "admin@aarhus.dk", ["finance.read"])
    async with _system(app, secret) as finance:
        month = "2026-11"
        assert (
            await finance.get(f"/api/v1/settlement/months/{month}/statements")
        ).status_code == 200
        assert (await finance.get("/api/v1/copayments/months")).status_code == 200
        assert (
            await finance.post("/api/v1/settlement/runs", json={"month": month})
        ).status_code == 403
        account = await finance.post(
            "/payouts/account", data={"iban": "DK5000400440116243", "bic": "DABADKKK"}
        )
        assert account.status_code == 403
        assert (await finance.post("/account/api-tokens", data={"name": "x"})).status_code == 403


async def test_a_municipal_admin_cannot_pick_provider_scopes(client, world):
    await login(client, "admin@aarhus.dk")
    refused = await post_form(
        client, "/account/api-tokens", {"name": "x", "scopes": ["kitchen.orders"]}
    )
    assert refused.status_code == 422


async def test_expiry_default_max_and_expired_tokens_are_refused_with_a_sentence(
    app, client, world, session, settings
):
    secret = await _token(client, "chef@godekoekken.dk", ["kitchen.orders"])
    token = (await session.execute(select(ApiToken))).scalars().one()
    assert token.scopes == "kitchen.orders"
    lifetime = token.expires_at - token.created_at
    assert abs(lifetime - timedelta(days=settings.api_token_default_days)) < timedelta(minutes=1)

    await login(client, "chef@godekoekken.dk")
    too_long = await post_form(
        client,
        "/account/api-tokens",
        {"name": "x", "scopes": ["offers"], "days": str(settings.api_token_max_days + 1)},
    )
    assert too_long.status_code == 422 and str(settings.api_token_max_days) in too_long.text
    nothing = await post_form(client, "/account/api-tokens", {"name": "x"})
    assert nothing.status_code == 422

    async with _system(app, secret) as kitchen:
        assert (await kitchen.get("/api/v1/kitchen/orders")).status_code == 200
        page = await client.get("/account/api-tokens")
        assert "kitchen.orders" in page.text and "Expires" in page.text
        await session.execute(
            update(ApiToken).values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        expired = await kitchen.get("/api/v1/kitchen/orders")
        assert expired.status_code == 401
        assert "expired" in expired.json()["detail"]
    await session.refresh(token)
    assert token.last_used_at is not None
