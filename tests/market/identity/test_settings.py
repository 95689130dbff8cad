"""The platform admin's settings page and the rules behind it; the relying
party's address checks and what counts as a second factor."""

import json

import pytest
from sqlalchemy import select

from market.audit.models import AuditEvent
from market.identity.models import IdentityProvider
from market.identity.oidc import OidcClient, OidcError, check_outbound_url, mfa_asserted
from tests.factories import login, post_form

SECRET = "very-secret-client-secret-0042"


def form(world, **kw) -> dict:
    data = {
        "municipality_id": str(world.municipality.id),
        "audience": "staff",
        "issuer": "https://login.example.dk/tenant",
        "client_id": "velfaerd",
        "client_secret": SECRET,
        "scopes": "openid profile",
        "person_claim": "oid",
        "mfa_amr_values": "mfa",
        "staff_passwords_allowed": "true",
        "enabled": "true",
    }
    data.update(kw)
    return data


async def test_platform_admin_saves_a_provider_and_never_sees_the_secret_again(
    client, session, world
):
    await login(client, world.user("platform_admin").email)
    saved = await post_form(client, "/identity/providers", form(world))
    assert saved.status_code == 303
    page = await client.get("/identity/providers")
    assert page.status_code == 200
    assert "https://login.example.dk/tenant" in page.text and SECRET not in page.text
    row = (await session.execute(select(IdentityProvider))).scalar_one()
    assert SECRET not in row.client_secret_encrypted and row.person_claim == "oid"

    # Saving again without a secret keeps the stored one.
    again = await post_form(
        client, "/identity/providers", form(world, client_secret="", person_claim="sub")
    )
    assert again.status_code == 303
    await session.refresh(row)
    assert row.client_secret_encrypted and row.person_claim == "sub"
    events = (
        await session.execute(
            select(AuditEvent).where(AuditEvent.action.like("identity_provider.%"))
        )
    ).scalars()
    data = [json.loads(e.data_json) for e in events]
    assert [d["client_secret_changed"] for d in data] == [True, False]
    assert all(SECRET not in json.dumps(d) for d in data)


@pytest.mark.parametrize(
    ("changes", "sentence"),
    [
        ({"issuer": "http://login.example.dk"}, "https"),
        ({"issuer": "https://169.254.169.254/latest"}, "https"),
        ({"scopes": "profile"}, "openid"),
        ({"person_claim": "email"}, "stable subject"),
        ({"client_id": " "}, "client id"),
    ],
)
async def test_bad_settings_get_a_sentence_and_store_nothing(
    client, session, world, changes, sentence
):
    await login(client, world.user("platform_admin").email)
    response = await post_form(client, "/identity/providers", form(world, **changes))
    assert response.status_code == 422
    assert sentence in response.text
    assert (await session.execute(select(IdentityProvider))).first() is None


async def test_only_the_platform_admin_may_change_sign_in(client, world):
    data = form(world)
    await login(client, world.user("admin").email)
    assert (await client.get("/identity/providers")).status_code == 403
    response = await post_form(client, "/identity/providers", data)
    assert response.status_code == 403


async def test_binding_links_only_for_own_staff(client, session, world, settings):
    from market.identity import service
    from market.identity.models import Audience

    await service.configure_provider(
        session,
        settings=settings,
        actor=None,
        municipality_id=world.municipality.id,
        data=service.ProviderSettings(
            audience=Audience.STAFF,
            issuer="https://login.example.dk/tenant",
            client_id="c",
            client_secret="s",
        ),
    )
    await session.commit()
    name = world.user("case_worker").full_name
    odense_id, citizen_id = world.user("odense_admin").id, world.user("citizen").id
    await login(client, world.user("admin").email)
    page = await client.get("/identity/staff")
    assert page.status_code == 200 and name in page.text
    odense = await post_form(client, f"/identity/staff/{odense_id}/binding-link")
    assert odense.status_code == 404
    citizen = await post_form(client, f"/identity/staff/{citizen_id}/binding-link")
    assert citizen.status_code == 422


def test_outbound_addresses_are_checked():
    assert check_outbound_url("https://login.example.dk/x", allow_loopback=False)
    for bad in (
        "http://login.example.dk",
        "https://169.254.169.254/",
        "http://127.0.0.1:9000",
        "https://user:pw@login.example.dk",
        "file:///etc/passwd",
        "https://[::]/",
    ):
        with pytest.raises(OidcError):
            check_outbound_url(bad, allow_loopback=False)
    assert check_outbound_url("http://127.0.0.1:9000", allow_loopback=True)
    with pytest.raises(OidcError):
        check_outbound_url("http://10.0.0.5", allow_loopback=True)


def test_mfa_is_what_the_municipality_names():
    assert mfa_asserted({"amr": ["pwd", "mfa"]}, acr_values="", amr_values="mfa")
    assert not mfa_asserted({"amr": ["pwd"]}, acr_values="", amr_values="mfa")
    assert mfa_asserted({"acr": "loa-high"}, acr_values="loa-high loa-substantial", amr_values="")
    assert not mfa_asserted({"acr": "loa-low"}, acr_values="loa-high", amr_values="")
    assert not mfa_asserted({"amr": ["mfa"]}, acr_values="", amr_values="")


async def test_a_provider_whose_metadata_names_another_issuer_is_refused(mock_idp):
    client = OidcClient(allow_loopback=True)
    with pytest.raises(OidcError) as refused:
        await client.metadata(mock_idp.issuer + "/")
    assert refused.value.reason == "issuer_mismatch"
    assert (await client.metadata(mock_idp.issuer)).jwks_uri.startswith(mock_idp.issuer)
