"""Signing in through a real OpenID Connect provider on loopback: staff bind and
sign in, citizens and proxies by the CPR claim, and every refusal the issue
names (unknown subject, tampered token, wrong nonce, replayed state, expired
token), then signing out at the provider."""

import json
import logging
import re
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import func, select, update

from market.audit.models import AuditEvent
from market.auth import service as auth_service
from market.auth.models import User
from market.identity.models import Audience, IdentityBinding, LoginState, ProviderSession
from market.municipalities.models import Municipality
from tests.factories import login, post_form
from tests.market.identity.conftest import configure, local, sign_in, start
from tests.vouchers.conftest import make_citizen, make_grant
from vouchers import service as vouchers
from vouchers.service import today_in_copenhagen

CITIZEN_CPR = "0101451234"
CPR_CLAIM = "https://data.gov.dk/model/core/eid/cprNumber"
SUBSTANTIAL = "https://data.gov.dk/concept/core/nsis/loa/Substantial"

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def audit_events(session, action: str) -> list[dict]:
    rows = (await session.execute(select(AuditEvent).where(AuditEvent.action == action))).scalars()
    return [json.loads(r.data_json) | {"entity_id": r.entity_id} for r in rows]


async def bind_via_link(client, session, world, mock_idp, subject: str) -> httpx.Response:
    """A municipal admin makes a binding link on the page; the colleague opens it."""
    admin = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with admin:
        await login(admin, world.user("admin").email)
        made = await post_form(
            admin, f"/identity/staff/{world.user('case_worker').id}/binding-link"
        )
        assert made.status_code == 201, made.text
        path = made.text.split("http://testserver/login/bind/")[1].split("<")[0]
    page = await client.get(f"/login/bind/{path}")
    assert page.status_code == 200
    assert world.user("case_worker").full_name in page.text
    return await sign_in(client, mock_idp, f"/login/bind/{path}/start", subject)


async def test_staff_binds_through_a_link_then_signs_in_by_subject(
    client, session, world, staff_idp, mock_idp
):
    subject = "oid-7c1e-case-worker"
    mock_idp.set_claims(subject, {"amr": ["pwd", "mfa"], "email": "someone.else@aarhus.dk"})
    response = await bind_via_link(client, session, world, mock_idp, subject)
    assert response.status_code == 303 and response.headers["location"] == "/"
    binding = (await session.execute(select(IdentityBinding))).scalar_one()
    assert binding.user_id == world.user("case_worker").id and binding.subject == subject
    bound = await audit_events(session, "identity.bound")
    assert bound and bound[0]["via"] == "binding_link"
    # Signed in: the citizens list is a case worker's page.
    assert (await client.get("/citizens")).status_code == 200

    # Next time: the staff button, matched by the bound subject (not the e-mail claim).
    client.cookies.clear()
    again = await sign_in(client, mock_idp, "/login/oidc/staff/0751", subject)
    assert again.status_code == 303 and again.headers["location"] == "/"
    assert (await client.get("/citizens")).status_code == 200
    logins = await audit_events(session, "auth.login")
    assert [e["method"] for e in logins if "method" in e] == ["oidc_staff", "oidc_staff"]


async def test_a_binding_link_works_once(client, session, world, staff_idp, mock_idp):
    admin = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with admin:
        await login(admin, world.user("admin").email)
        made = await post_form(
            admin, f"/identity/staff/{world.user('case_worker').id}/binding-link"
        )
    token = made.text.split("http://testserver/login/bind/")[1].split("<")[0]
    mock_idp.set_claims("first-subject", {})
    first = await sign_in(client, mock_idp, f"/login/bind/{token}/start", "first-subject")
    assert first.status_code == 303
    again = await client.get(f"/login/bind/{token}")
    assert again.status_code == 404
    assert "has been used or has expired" in again.text


async def test_unknown_subject_gets_no_access_and_no_account(
    client, session, world, staff_idp, mock_idp
):
    users_before = (await session.execute(select(func.count()).select_from(User))).scalar_one()
    mock_idp.set_claims("stranger", {"email": world.user("case_worker").email})
    response = await sign_in(client, mock_idp, "/login/oidc/staff/0751", "stranger")
    assert response.status_code == 403
    assert "You do not have access yet" in response.text
    assert "contact your municipality" in response.text
    assert "market_session" not in response.cookies
    users_after = (await session.execute(select(func.count()).select_from(User))).scalar_one()
    assert users_after == users_before
    refused = await audit_events(session, "auth.oidc_refused")
    assert [e["reason"] for e in refused] == ["unknown_subject"]


async def test_staff_without_provider_mfa_is_asked_for_the_local_second_factor(
    client, session, world, staff_idp, mock_idp
):
    mock_idp.set_claims("no-mfa", {"amr": ["pwd"]})
    await bind_via_link(client, session, world, mock_idp, "no-mfa")
    await session.execute(
        update(Municipality)
        .where(Municipality.id == world.municipality.id)
        .values(require_staff_totp=True)
    )
    await session.commit()
    client.cookies.clear()
    response = await sign_in(client, mock_idp, "/login/oidc/staff/0751", "no-mfa")
    assert response.headers["location"] == "/login/second-factor"

    mock_idp.set_claims("no-mfa", {"amr": ["pwd", "mfa"]})
    client.cookies.clear()
    response = await sign_in(client, mock_idp, "/login/oidc/staff/0751", "no-mfa")
    assert response.headers["location"] == "/"
    assert (await client.get("/citizens")).status_code == 200


async def grant_citizen(session, world, cpr: str = CITIZEN_CPR):
    actor = auth_service.actor_for(world.user("case_worker"))
    citizen = await make_citizen(session, actor, cpr=cpr)
    await make_grant(session, actor, citizen, today_in_copenhagen())
    await session.commit()
    return citizen


async def test_citizen_signs_in_with_mitid_by_cpr_claim_and_signs_out_at_the_provider(
    client, session, world, caps, citizen_idp, mock_idp, caplog
):
    citizen = await grant_citizen(session, world)
    mock_idp.set_claims("mitid-uuid-1", {CPR_CLAIM: "010145-1234", "acr": SUBSTANTIAL})
    caplog.set_level(logging.DEBUG)
    authorize_url = await start(client, "/login/oidc/citizen/0751")
    assert CITIZEN_CPR not in authorize_url
    back = mock_idp.authorize(authorize_url, "mitid-uuid-1")
    response = await client.get(local(back))
    assert response.status_code == 303, response.text
    assert CITIZEN_CPR not in response.headers["location"]
    assert (await client.get("/my-voucher")).status_code == 200
    logins = await audit_events(session, "auth.login")
    assert logins[-1]["method"] == "mitid_citizen"
    assert logins[-1]["entity_id"] == str(citizen.user_id)
    assert logins[-1]["provider_mfa"] is True
    # The ID token (with the CPR claim) is kept only encrypted, for the sign-out.
    kept = (await session.execute(select(ProviderSession))).scalar_one()
    assert "eyJ" not in kept.id_token_encrypted

    signed_out = await post_form(client, "/logout")
    assert signed_out.status_code == 200
    assert f'action="{mock_idp.issuer}/oauth2/end_session"' in signed_out.text
    assert 'name="id_token_hint"' in signed_out.text
    assert mock_idp.issuer in signed_out.headers["content-security-policy"]
    assert (await session.execute(select(ProviderSession))).first() is None
    assert (await client.get("/my-voucher")).status_code in (401, 303)
    # The provider ends its session and sends the browser back to our sign-in page.
    fields = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', signed_out.text))
    fields.pop("csrf_token", None)
    assert mock_idp.end_session(fields) == "http://testserver/login"
    for record in caplog.records:
        assert CITIZEN_CPR not in record.getMessage() and "010145-1234" not in record.getMessage()
    for event in (await session.execute(select(AuditEvent))).scalars():
        assert CITIZEN_CPR not in event.data_json and "010145-1234" not in event.data_json


async def test_citizen_without_a_voucher_is_told_whom_to_call(
    client, session, world, citizen_idp, mock_idp
):
    mock_idp.set_claims("mitid-nobody", {CPR_CLAIM: "0202501234"})
    response = await sign_in(client, mock_idp, "/login/oidc/citizen/0751", "mitid-nobody")
    assert response.status_code == 403
    assert "cannot find a meal voucher" in response.text
    assert "Aarhus Kommune" in response.text
    assert "0202501234" not in response.text
    refused = await audit_events(session, "auth.oidc_refused")
    assert [e["reason"] for e in refused] == ["unknown_citizen"]


async def test_proxy_signs_in_with_own_mitid_and_sees_linked_citizen(
    client, session, world, caps, citizen_idp, mock_idp, settings
):
    citizen = await grant_citizen(session, world)
    actor = auth_service.actor_for(world.user("case_worker"))
    linked = await vouchers.link_proxy(
        session,
        actor=actor,
        settings=settings,
        citizen_id=citizen.id,
        full_name="Søren Jensen",
        email="soeren@example.dk",
        relation="søn",
    )
    await session.commit()
    proxy_id, worker_email = linked.user.id, world.user("case_worker").email
    staff = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with staff:
        await login(staff, worker_email)
        form = f"/citizens/{citizen.id}/proxies/{proxy_id}/mitid"
        assert (await staff.get(form)).status_code == 200
        wrong = await post_form(staff, form, {"cpr": "not a cpr"})
        assert wrong.status_code == 422
        saved = await post_form(staff, form, {"cpr": "030370-4321"})
        assert saved.status_code == 200 and "0303704321" not in saved.text
    mock_idp.set_claims("mitid-son", {CPR_CLAIM: "0303704321"})
    response = await sign_in(client, mock_idp, "/login/oidc/citizen/0751", "mitid-son")
    assert response.status_code == 303
    logins = await audit_events(session, "auth.login")
    assert logins[-1]["method"] == "mitid_proxy"
    assert logins[-1]["entity_id"] == str(proxy_id)
    order_page = await client.get("/order")
    assert order_page.status_code == 200
    assert "Karen Jensen" in order_page.text


class TamperingTransport(httpx.AsyncBaseTransport):
    """Stands between us and the provider's token endpoint and changes one
    character of the ID token's payload (the signature no longer matches)."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not request.url.path.endswith("/token"):
            return response
        body = json.loads(await response.aread())
        header, payload, signature = body["id_token"].split(".")
        flipped = payload[:-3] + ("A" if payload[-3] != "A" else "B") + payload[-2:]
        body["id_token"] = f"{header}.{flipped}.{signature}"
        return httpx.Response(200, json=body)


async def test_tampered_id_token_is_refused(app, client, session, world, staff_idp, mock_idp):
    app.state.oidc.transport = TamperingTransport()
    mock_idp.set_claims("tampered", {})
    response = await sign_in(client, mock_idp, "/login/oidc/staff/0751", "tampered")
    assert response.status_code == 401
    assert "market_session" not in response.cookies
    refused = await audit_events(session, "auth.oidc_refused")
    assert [e["reason"] for e in refused] in (["bad_signature"], ["malformed_token"])


async def test_wrong_nonce_is_refused(client, session, world, staff_idp, mock_idp):
    mock_idp.set_claims("nonce-person", {})
    authorize_url = await start(client, "/login/oidc/staff/0751")
    back = mock_idp.authorize(authorize_url, "nonce-person")
    # The token carries the nonce we sent; we now expect another one.
    await session.execute(update(LoginState).values(nonce="not-the-nonce-we-sent"))
    await session.commit()
    response = await client.get(local(back))
    assert response.status_code == 401
    refused = await audit_events(session, "auth.oidc_refused")
    assert [e["reason"] for e in refused] == ["wrong_nonce"]


async def test_replayed_state_is_refused(client, session, world, staff_idp, mock_idp):
    mock_idp.set_claims("replayer", {})
    await bind_via_link(client, session, world, mock_idp, "replayer")
    client.cookies.clear()
    authorize_url = await start(client, "/login/oidc/staff/0751")
    back = mock_idp.authorize(authorize_url, "replayer")
    first = await client.get(local(back))
    assert first.status_code == 303
    again = await client.get(local(back))
    assert again.status_code == 401
    assert "market_session" not in again.cookies
    refused = await audit_events(session, "auth.oidc_refused")
    assert refused[-1]["reason"] == "unknown_or_used_state"


async def test_state_from_another_browser_is_refused(
    client, app, session, world, staff_idp, mock_idp
):
    mock_idp.set_claims("other-browser", {})
    authorize_url = await start(client, "/login/oidc/staff/0751")
    back = mock_idp.authorize(authorize_url, "other-browser")
    other = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    async with other:
        response = await other.get(local(back))
    assert response.status_code == 401
    refused = await audit_events(session, "auth.oidc_refused")
    assert [e["reason"] for e in refused] == ["other_browser"]


async def test_expired_id_token_is_refused(client, session, settings, world, expired_idp):
    await configure(session, settings, world, expired_idp, Audience.STAFF)
    expired_idp.set_claims("late", {})
    response = await sign_in(client, expired_idp, "/login/oidc/staff/0751", "late")
    assert response.status_code == 401
    refused = await audit_events(session, "auth.oidc_refused")
    assert [e["reason"] for e in refused] == ["expired"]


async def test_staff_passwords_can_be_switched_off(client, session, settings, world, mock_idp):
    await configure(
        session, settings, world, mock_idp, Audience.STAFF, staff_passwords_allowed=False
    )
    provider_email = world.user("provider_admin").email
    response = await login(client, world.user("case_worker").email)
    assert response.status_code == 403
    assert "switched off passwords" in response.text
    # Providers keep their passwords.
    provider_login = await login(client, provider_email)
    assert provider_login.status_code == 303


async def test_a_provider_switched_off_meanwhile_signs_nobody_in(
    client, session, settings, world, staff_idp, mock_idp
):
    mock_idp.set_claims("late-switch", {})
    authorize_url = await start(client, "/login/oidc/staff/0751")
    back = mock_idp.authorize(authorize_url, "late-switch")
    await configure(session, settings, world, mock_idp, Audience.STAFF, enabled=False)
    response = await client.get(local(back))
    assert response.status_code == 401
    refused = await audit_events(session, "auth.oidc_refused")
    assert [e["reason"] for e in refused] == ["provider_switched_off"]
    login_page = await client.get("/login")
    assert "/login/oidc/staff/0751" not in login_page.text


class RecordingTransport(httpx.AsyncBaseTransport):
    """Passes everything through and keeps the token requests' bodies."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.token_bodies: list[dict[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            body = (await request.aread()).decode()
            self.token_bodies.append(dict(parse_qsl(body)))
        return await self.inner.handle_async_request(request)


async def test_pkce_verifier_matches_the_challenge_and_secrets_stay_off_the_url(
    app, client, session, world, staff_idp, mock_idp
):
    recorder = RecordingTransport()
    app.state.oidc.transport = recorder
    mock_idp.set_claims("pkce-person", {})
    authorize_url = await start(client, "/login/oidc/staff/0751")
    query = dict(parse_qsl(urlsplit(authorize_url).query))
    assert query["code_challenge_method"] == "S256"
    assert "client_secret" not in query and "s3cret" not in authorize_url
    stored = (await session.execute(select(LoginState))).scalar_one()
    assert stored.state_hash != query["state"] and stored.nonce == query["nonce"]
    await client.get(local(mock_idp.authorize(authorize_url, "pkce-person")))
    (body,) = recorder.token_bodies
    assert create_s256_code_challenge(body["code_verifier"]) == query["code_challenge"]
    assert body["grant_type"] == "authorization_code"


async def test_a_subject_bound_to_someone_else_is_not_bound_twice(
    client, session, world, staff_idp, mock_idp
):
    from market.identity import service

    await service.bind_subject(
        session, user=world.user("auditor"), provider=staff_idp, subject="shared", via="test"
    )
    await session.commit()
    mock_idp.set_claims("shared", {})
    response = await bind_via_link(client, session, world, mock_idp, "shared")
    assert response.status_code == 409
    assert "already belongs to another account" in response.text
    refused = await audit_events(session, "auth.oidc_refused")
    assert [e["reason"] for e in refused] == ["binding_refused"]
    bindings = (await session.execute(select(IdentityBinding))).scalars().all()
    assert [b.user_id for b in bindings] == [world.user("auditor").id]


async def test_a_new_issuer_starts_without_bindings(
    session, settings, world, staff_idp, mock_idp, expired_idp
):
    from market.identity import service

    await service.bind_subject(
        session, user=world.user("case_worker"), provider=staff_idp, subject="s-1", via="test"
    )
    await configure(session, settings, world, mock_idp, Audience.STAFF)  # same issuer
    assert (await session.execute(select(IdentityBinding))).first() is not None
    await configure(session, settings, world, expired_idp, Audience.STAFF)  # another issuer
    assert (await session.execute(select(IdentityBinding))).first() is None
    changed = await audit_events(session, "identity_provider.changed")
    assert [e["bindings_cleared"] for e in changed] == [False, True]


async def test_an_invitation_accepted_at_the_identity_provider_binds_the_new_account(
    app, client, session, settings, world, staff_idp, mock_idp
):
    from market.auth.models import Role
    from market.people import service as people

    admin = auth_service.actor_for(world.user("admin"))
    invitation = await people.invite(
        session,
        settings=settings,
        actor=admin,
        email="ny.kollega@aarhus.dk",
        role=Role.CASE_WORKER,
        full_name="Ny Kollega",
    )
    await session.commit()
    path = urlsplit(invitation.link).path
    page = await client.get(path)
    assert page.status_code == 200 and f"{path}/staff-login" in page.text

    subject = "oid-new-colleague"
    mock_idp.set_claims(subject, {"amr": ["pwd", "mfa"]})
    done = await sign_in(client, mock_idp, f"{path}/staff-login", subject)
    assert done.status_code == 303 and done.headers["location"] == "/"
    binding = (await session.execute(select(IdentityBinding))).scalar_one()
    assert binding.user_id == invitation.user.id and binding.subject == subject
    assert (await audit_events(session, "identity.bound"))[0]["via"] == "invitation"
    assert (await client.get("/citizens")).status_code == 200
    # The invitation was used up: the link no longer lets anyone in.
    client.cookies.clear()
    assert (await client.get(f"{path}/staff-login")).status_code == 410


async def test_an_invitation_offers_no_identity_provider_where_there_is_none(
    client, session, settings, world
):
    from market.auth.models import Role
    from market.people import service as people

    invitation = await people.invite(
        session,
        settings=settings,
        actor=auth_service.actor_for(world.user("admin")),
        email="anden.kollega@aarhus.dk",
        role=Role.CASE_WORKER,
    )
    await session.commit()
    path = urlsplit(invitation.link).path
    assert "staff-login" not in (await client.get(path)).text
    assert (await client.get(f"{path}/staff-login")).status_code == 404
    # ... and the invitation is still there to be accepted with a password.
    assert (await client.get(path)).status_code == 200
