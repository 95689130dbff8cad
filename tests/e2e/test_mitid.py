"""A citizen signs in with MitID (a real OpenID Connect provider on loopback
standing in for the broker) and signs out there too; the platform admin sets the
login up on its page first. axe on every page of ours.

The browser really goes to the provider and back. The provider's two pages
(its login form and its sign-out confirmation) belong to oidc-provider-mock,
not to us, so axe runs on our pages only."""

import asyncio
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from market.admin_tasks import unit_of_work
from market.config import Settings
from market.identity.models import IdentityProvider
from tests.e2e.conftest import LiveServer, _, _in_thread, assert_accessible, sign_out
from tests.oidc_server import MockProvider, run_mock_provider

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

CPR_CLAIM = "https://data.gov.dk/model/core/eid/cprNumber"
KAREN_CPR = "120338-1014"  # vouchers/demo.py
SUBJECT = "mitid-karen"


async def _switch_off_sign_in(settings: Settings) -> None:
    async with unit_of_work(settings) as session:
        await session.execute(update(IdentityProvider).values(enabled=False))


@pytest.fixture
def broker(live_server: LiveServer) -> Iterator[MockProvider]:
    with run_mock_provider() as provider:
        provider.set_claims(
            SUBJECT,
            {CPR_CLAIM: KAREN_CPR, "acr": "https://data.gov.dk/concept/core/nsis/loa/Substantial"},
        )
        try:
            yield provider
        finally:
            # The server is shared by the package: later tests see the login page
            # as the demo has it, without this provider's buttons.
            _in_thread(asyncio.run, _switch_off_sign_in(live_server.settings))


def set_up_mitid(page: Page, login_as, broker: MockProvider) -> None:
    login_as(page, "platform@velfaerd.example")
    menu = page.get_by_role("navigation", name=_("Main menu"))
    menu.get_by_role("link", name=_("Sign-in set-up")).click()
    assert_accessible(page)
    form = page.get_by_role("main")
    form.get_by_label(_("Municipality"), exact=True).select_option(label="Aarhus Kommune (0751)")
    form.get_by_label(_("For"), exact=True).select_option(value="citizen")
    form.get_by_label(_("Issuer")).fill(broker.issuer)
    form.get_by_label(_("Client id")).fill("velfaerd-e2e")
    form.get_by_label(_("Client secret")).fill("e2e-client-secret")
    form.get_by_label(_("acr values that count as a second factor")).fill(
        "https://data.gov.dk/concept/core/nsis/loa/Substantial"
    )
    form.get_by_role("button", name=_("Save")).click()
    expect(page.get_by_role("status")).to_contain_text(_("Saved."))
    assert_accessible(page)
    expect(page.get_by_role("main")).not_to_contain_text("e2e-client-secret")
    sign_out(page)


def test_citizen_signs_in_with_mitid_and_out_again(page: Page, login_as, broker) -> None:
    set_up_mitid(page, login_as, broker)

    page.goto("/login")
    assert_accessible(page)
    page.get_by_role("link", name=_("Sign in with MitID")).click()
    # At the provider (its page, not ours): the person proves who they are.
    expect(page).to_have_url(re.compile(re.escape(broker.issuer) + "/oauth2/authorize"))
    page.get_by_role("textbox", name="sub").fill(SUBJECT)
    page.get_by_role("button", name="Authorize").click()

    expect(page).to_have_url(re.compile(r"/$"))
    assert_accessible(page)
    assert "1203381014" not in page.url and KAREN_CPR not in page.url
    expect(page.get_by_role("banner")).to_contain_text("Karen")

    page.get_by_role("banner").get_by_role("button", name=_("Sign out")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(_("You are signed out"))
    assert_accessible(page)
    # The form posts the ID token hint to the provider (never in a URL); our
    # page's CSP names the provider as the one other place a form may go.
    page.get_by_role("button", name=_("Sign out at the login too")).click()
    expect(page).to_have_url(re.compile(re.escape(broker.issuer) + "/oauth2/end_session$"))
    page.get_by_role("button", name="End session").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    assert_accessible(page)
    page.goto("/my-voucher")
    expect(page).to_have_url(re.compile(r"/login"))
    assert_accessible(page)
