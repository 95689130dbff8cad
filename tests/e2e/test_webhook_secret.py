"""A provider's administrator sets the kitchen system's webhook address, is told
in Danish why an inside address is refused, and rotates the signing secret; axe
checks every page (issue 15: SSRF and secret rotation)."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import _, assert_accessible

pytestmark = pytest.mark.browser

KITCHEN_ADMIN = "admin@smagfuldt.example"


def test_webhook_address_checked_and_secret_rotated(page: Page, login_as) -> None:
    login_as(page, KITCHEN_ADMIN)
    page.goto("/provider/ordering")
    assert_accessible(page)
    address = page.get_by_label(_("Webhook address for your kitchen system"))

    address.fill("https://127.0.0.1/hook")
    page.get_by_role("button", name=_("Save")).click()
    expect(page.get_by_role("alert")).to_contain_text("offentlige internet")
    assert_accessible(page)

    page.get_by_label(_("Webhook address for your kitchen system")).fill(
        "https://93.184.215.14/velfaerd"
    )
    page.get_by_role("button", name=_("Save")).click()
    expect(page).to_have_url(re.compile(r"/provider/ordering\?done=saved$"))
    secret = page.locator("code.token").inner_text()
    assert len(secret) > 30
    assert_accessible(page)

    page.get_by_role("button", name=_("Make a new signing secret")).click()
    expect(page).to_have_url(re.compile(r"/provider/ordering\?done=rotated$"))
    expect(page.get_by_role("status")).to_contain_text(
        _("A new signing secret is made. Put it into your kitchen system.")
    )
    assert page.locator("code.token").inner_text() != secret
    expect(page.get_by_role("main")).to_contain_text("v1")
    assert_accessible(page)
