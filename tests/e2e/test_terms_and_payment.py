"""Two pages no tile leads to directly, in the browser with axe: the admin adds
a version of a contract's terms (in percent and kroner), and a citizen chooses
how to pay the co-payment (the demo's offline gateway: a demo card)."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from market.clock import today
from tests.e2e.conftest import _, assert_accessible

pytestmark = pytest.mark.browser

PROVIDER = "Smagfuldt Madservice ApS"


def first_of_next_month() -> str:
    day = today().replace(day=28) + timedelta(days=4)
    return day.replace(day=1).isoformat()


def test_admin_adds_a_version_of_the_contract_terms(page: Page, login_as) -> None:
    login_as(page, "admin@aarhus.example")
    page.get_by_role("navigation", name=_("Main menu")).get_by_role(
        "link", name=_("Providers"), exact=True
    ).click()
    assert_accessible(page)
    page.get_by_role("link", name=PROVIDER).first.click()
    assert_accessible(page)
    page.get_by_role("link", name=_("Contract terms and versions")).first.click()
    expect(page).to_have_url(re.compile(r"/approvals/\d+/terms$"))
    assert_accessible(page)
    versions = page.get_by_role("table").first.get_by_role("row")
    before = versions.count()

    # A rate that is not a number is refused with a sentence, and what was typed stays.
    page.get_by_label(_("Valid from")).fill(first_of_next_month())
    page.get_by_label(_("Unit price in kroner")).fill("87,50")
    page.get_by_label(_("Rebate in percent")).fill("fem")
    page.get_by_role("button", name=_("Save new version")).click()
    assert_accessible(page)
    expect(page.get_by_role("alert")).to_contain_text("fem")
    expect(page.get_by_label(_("Unit price in kroner"))).to_have_value("87,50")
    expect(page.get_by_role("table").first.get_by_role("row")).to_have_count(before)

    page.get_by_label(_("Rebate in percent")).fill("2,5")
    page.get_by_role("button", name=_("Save new version")).click()
    expect(page).to_have_url(re.compile(r"/approvals/\d+/terms\?done=added$"))
    assert_accessible(page)
    expect(page.get_by_role("status")).to_contain_text(
        _("The new version of the contract terms is saved.")
    )
    rows = page.get_by_role("table").first.get_by_role("row")
    expect(rows).to_have_count(before + 1)
    newest = rows.filter(has_text="87,50")
    expect(newest).to_have_count(1)
    expect(newest).to_contain_text("2,5 %")


def test_a_citizen_chooses_to_pay_by_card_and_back(page: Page, login_as) -> None:
    login_as(page, "karen.jensen@borger.example")
    page.get_by_role("main").get_by_role("link", name=_("My voucher")).first.click()
    assert_accessible(page)
    page.get_by_role("link", name=_("How you pay")).click()
    expect(page).to_have_url(re.compile(r"/payment$"))
    assert_accessible(page)
    how = page.locator("#how-you-pay")
    expect(how).to_contain_text(_("Your co-payment comes on a statement once a month."))

    page.get_by_label(_("By card (demo card, no money is taken)")).check()
    page.get_by_role("button", name=_("Save")).click()
    assert_accessible(page)
    expect(page.get_by_text(_("Your choice is saved."))).to_be_visible()
    expect(how).to_contain_text(_("Your co-payment is paid by card."))

    page.get_by_label(_("A statement once a month")).check()
    page.get_by_role("button", name=_("Save")).click()
    assert_accessible(page)
    expect(how).to_contain_text(_("Your co-payment comes on a statement once a month."))
