"""A case worker finds a demo citizen and opens the record (axe on every page)."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import _, assert_accessible, sign_out

pytestmark = pytest.mark.browser

CITIZEN = "Karen Margrethe Jensen"  # Aarhus, from vouchers/demo.py
CITIZEN_CPR = "120338-1014"
ODENSE_CITIZEN = "Grethe Hansen"


def search(page: Page, query: str) -> None:
    page.get_by_label(_("Name, address, postal code or CPR number")).fill(query)
    page.get_by_role("search").get_by_role("button", name=_("Search")).click()
    expect(page.get_by_role("heading", level=2, name=_("Search results"))).to_be_visible()
    assert_accessible(page)


def test_case_worker_searches_a_citizen_and_opens_the_record(page: Page, login_as) -> None:
    login_as(page, "sagsbehandler@aarhus.example")
    menu = page.get_by_role("navigation", name=_("Main menu"))
    menu.get_by_role("link", name=_("Citizens"), exact=True).click()
    expect(page).to_have_url(re.compile(r"/citizens$"))
    assert_accessible(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(_("Citizens"))

    # Another municipality's citizen is not found here.
    search(page, ODENSE_CITIZEN)
    expect(page.get_by_role("main")).to_contain_text(_("No citizens found."))
    expect(page.get_by_role("link", name=ODENSE_CITIZEN)).to_have_count(0)

    # A CPR number finds exactly that person, and is posted, never put in the URL.
    search(page, CITIZEN_CPR)
    assert CITIZEN_CPR not in page.url
    results = page.get_by_role("main").get_by_role("table").get_by_role("row")
    expect(results).to_have_count(2)  # the header row and one citizen
    page.get_by_role("link", name=CITIZEN, exact=True).click()

    expect(page).to_have_url(re.compile(r"/citizens/\d+$"))
    assert_accessible(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(CITIZEN)
    main = page.get_by_role("main")
    expect(main).to_contain_text("Nørregade 12, 1. tv., 8000")
    expect(main).not_to_contain_text(CITIZEN_CPR)  # the record shows a masked CPR number
    expect(main.get_by_role("heading", level=2, name=_("Vouchers"))).to_be_visible()
    sign_out(page)


FORMS_FROM_THE_RECORD = [
    "New assessment",
    "Change",
    "Revoke",
    "Link a relative or helper",
    "Welcome letter and sign-in code",
]


def test_case_worker_forms_from_the_record_are_accessible(page: Page, login_as) -> None:
    login_as(page, "sagsbehandler@aarhus.example")
    page.goto("/citizens")
    assert_accessible(page)
    page.get_by_role("link", name=CITIZEN, exact=True).click()
    expect(page).to_have_url(re.compile(r"/citizens/\d+$"))
    assert_accessible(page)
    main = page.get_by_role("main")
    hrefs = {
        link: main.get_by_role("link", name=_(link)).first.get_attribute("href")
        for link in FORMS_FROM_THE_RECORD
    }
    for link, href in hrefs.items():
        assert href, f"no link {link!r} on the record"
        response = page.goto(href)
        assert response is not None and response.ok, f"{link}: {href} answered an error"
        assert_accessible(page)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
