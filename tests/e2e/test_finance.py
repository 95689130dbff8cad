"""The finance page in the browser: the auditor downloads the demo's
approved month as a Peppol invoice (valid by the official rules) and its
adjustment as a credit note; the admin's settings form refuses a wrong
GLN with a sentence. axe-core checks every page."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import _, assert_accessible, sign_out
from tests.peppol.validate import validate

pytestmark = pytest.mark.browser


def open_finance(page: Page) -> None:
    page.get_by_role("navigation", name=_("Main menu")).get_by_role(
        "link", name=_("Finance"), exact=True
    ).click()
    expect(page).to_have_url(re.compile(r"/finance$"))
    assert_accessible(page)


def test_the_auditor_downloads_valid_einvoices_and_the_admin_sets_the_gln(
    page: Page, login_as
) -> None:
    login_as(page, "revisor@aarhus.example")
    open_finance(page)
    for link in (_("E-invoice (XML)"), _("Credit note (XML)")):
        with page.expect_download() as download:
            page.get_by_role("link", name=re.compile("^" + re.escape(link))).first.click()
        content = download.value.path().read_bytes()
        assert b"<cbc:BuyerReference>" in content
        assert [str(f) for f in validate(content) if f.is_fatal] == []
    expect(page.get_by_label(_("EAN/GLN location number"))).to_have_count(0)
    sign_out(page)

    login_as(page, "admin@aarhus.example")
    open_finance(page)
    page.get_by_label(_("EAN/GLN location number")).fill("5798000000002")
    page.get_by_role("button", name=_("Save the settings")).click()
    expect(page.get_by_role("alert")).to_contain_text("5798000000002")
    assert_accessible(page)
    page.get_by_label(_("EAN/GLN location number")).fill("5798000000001")
    page.get_by_role("button", name=_("Save the settings")).click()
    expect(page.get_by_role("status")).to_contain_text(_("The settings are saved."))
    assert_accessible(page)
