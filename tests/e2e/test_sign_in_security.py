"""In a real browser: the welcome letter's QR link carries the code only after
"#", the sign-in page puts it in the field and out of the address bar, and one
button signs in; the API token page with its scopes and expiry is accessible."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import _, assert_accessible, sign_out

pytestmark = pytest.mark.browser

CITIZEN = "Karen Margrethe Jensen"  # Aarhus, from vouchers/demo.py


def test_the_qr_link_fills_the_code_without_sending_it(page: Page, login_as) -> None:
    login_as(page, "sagsbehandler@aarhus.example")
    page.goto("/citizens")
    assert_accessible(page)
    page.get_by_role("link", name=CITIZEN, exact=True).first.click()
    expect(page).to_have_url(re.compile(r"/citizens/\d+$"))
    assert_accessible(page)
    page.get_by_role("main").get_by_role("link", name=_("Welcome letter and sign-in code")).click()
    assert_accessible(page)
    page.get_by_role("main").get_by_role("button").first.click()  # issue a (new) code
    page.wait_for_load_state("load")
    assert_accessible(page)
    link = page.locator(".qr").get_attribute("data-link")
    assert link and re.search(r"/letter-code#[A-Z0-9]{4}-[A-Z0-9]{4}$", link), link
    code = link.rsplit("#", 1)[1]
    sign_out(page)

    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url))
    page.goto(link)
    assert_accessible(page)
    expect(page.get_by_label(_("The code from your letter"))).to_have_value(code)
    assert "#" not in page.url  # taken out of the address bar and the history
    assert all(code not in url for url in sent), sent  # never sent to the server
    page.get_by_role("main").get_by_role("button", name=_("Sign in")).click()
    expect(page).to_have_url(re.compile(r"/letter-code/password$"))
    assert_accessible(page)


def test_the_token_page_shows_scopes_expiry_and_last_use(page: Page, login_as) -> None:
    login_as(page, "admin@smagfuldt.example")
    page.goto("/account/api-tokens")
    assert_accessible(page)
    page.get_by_label(_("Name of the system using the token")).fill("Køkkenskærm")
    page.get_by_label(re.compile("kitchen.orders")).check()
    page.get_by_role("button", name=_("Create token")).click()
    page.wait_for_load_state("load")
    assert_accessible(page)
    table = page.get_by_role("main").get_by_role("table")
    expect(table).to_contain_text("kitchen.orders")
    expect(table.get_by_role("columnheader", name=_("Expires"))).to_be_visible()
    expect(table.get_by_role("columnheader", name=_("Last used"))).to_be_visible()
