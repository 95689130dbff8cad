"""A municipal admin invites a colleague, who accepts the invitation in the
browser and is signed in; the staff page, the invitation form and the start page
pass axe. The demo has no SMTP server, so the admin is shown the link to pass on."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import _, assert_accessible, sign_out

pytestmark = pytest.mark.browser


def test_an_admin_invites_a_case_worker_who_accepts_and_is_signed_in(page: Page, login_as) -> None:
    login_as(page, "admin@aarhus.example")
    page.get_by_role("navigation", name=_("Main menu")).get_by_role(
        "link", name=_("Staff"), exact=True
    ).click()
    expect(page).to_have_url(re.compile(r"/people$"))
    assert_accessible(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(_("Staff"))

    page.get_by_label(_("E-mail address")).fill("ny.sagsbehandler@aarhus.example")
    page.get_by_label(_("Name (the person can correct it)")).fill("Nikolaj Ny")
    page.get_by_label(_("Role"), exact=True).select_option("case_worker")
    page.get_by_role("button", name=_("Send invitation")).click()
    assert_accessible(page)
    status = page.get_by_role("status")
    expect(status).to_contain_text("ny.sagsbehandler@aarhus.example")
    link = status.locator("code").inner_text()
    path = re.sub(r"^https?://[^/]+", "", link)
    assert path.startswith("/invitation/")
    row = page.get_by_role("row").filter(has_text="ny.sagsbehandler@aarhus.example")
    expect(row).to_contain_text(_("Invited"))
    sign_out(page)

    page.goto(path)
    assert_accessible(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(_("Welcome to Velfærdsmarked"))
    expect(page.get_by_label(_("Your full name"))).to_have_value("Nikolaj Ny")
    page.get_by_label(_("Password"), exact=True).fill("et-langt-kodeord")
    page.get_by_label(_("The password again")).fill("et-andet-kodeord")
    page.get_by_role("button", name=_("Start using Velfærdsmarked")).click()
    assert_accessible(page)
    expect(page.get_by_role("alert")).to_have_text(_("The two passwords are not the same."))

    page.get_by_label(_("Password"), exact=True).fill("et-langt-kodeord")
    page.get_by_label(_("The password again")).fill("et-langt-kodeord")
    page.get_by_role("button", name=_("Start using Velfærdsmarked")).click()
    expect(page).to_have_url(re.compile(r"/$"))
    assert_accessible(page)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Nikolaj Ny")
    expect(page.get_by_role("link", name=re.compile(_("Citizens"))).first).to_be_visible()

    # The link works once.
    sign_out(page)
    page.goto(path)
    assert_accessible(page)
    expect(page.get_by_role("main")).to_contain_text(
        _(
            "This link can no longer be used: it has been used already or it has expired. "
            "Ask for a new one."
        )
    )


def test_the_forgotten_password_page_tells_citizens_to_call(page: Page) -> None:
    page.goto("/login")
    assert_accessible(page)
    page.get_by_role("link", name=_("Forgotten your password?")).click()
    expect(page).to_have_url(re.compile(r"/password-reset$"))
    assert_accessible(page)
    page.get_by_label(_("E-mail address")).fill("findes.ikke@aarhus.example")
    page.get_by_role("button", name=_("Send me a link")).click()
    assert_accessible(page)
    expect(page.get_by_role("status")).to_contain_text(
        _(
            "If the address belongs to a staff or provider account, we have sent it a link "
            "to choose a new password. The link works once and only for a short while."
        )
    )


def test_a_platform_admin_sets_up_a_municipality_on_the_pages(page: Page, login_as) -> None:
    login_as(page, "platform@velfaerd.example")
    page.get_by_role("navigation", name=_("Main menu")).get_by_role(
        "link", name=_("Municipalities"), exact=True
    ).click()
    expect(page).to_have_url(re.compile(r"/municipalities$"))
    assert_accessible(page)
    page.get_by_role("link", name=_("Set up a municipality")).click()
    assert_accessible(page)
    fields = {
        "Municipality code": "0746",
        "Name": "Skanderborg Kommune",
        "Postal codes served": "8660 Skanderborg\n8680 Ry",
        "Telephone for citizens": "+45 87 94 70 00",
        "Opening hours of the telephone": "Hverdage 8–15",
        "Cap per unit (kr.)": "61,00",
    }
    for label, value in fields.items():
        page.get_by_label(_(label), exact=True).fill(value)
    page.get_by_label(_("Telephone for citizens"), exact=True).fill("ring")
    page.get_by_role("button", name=_("Set up the municipality")).click()
    assert_accessible(page)
    expect(page.get_by_role("alert")).to_have_text(
        _("Give a telephone number citizens can call, e.g. +45 89 40 20 00.")
    )
    expect(page.get_by_label(_("Name"), exact=True)).to_have_value("Skanderborg Kommune")
    page.get_by_label(_("Telephone for citizens"), exact=True).fill("+45 87 94 70 00")
    page.get_by_role("button", name=_("Set up the municipality")).click()
    expect(page).to_have_url(re.compile(r"/municipalities/\d+\?done=created$"))
    assert_accessible(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Skanderborg Kommune (0746)")
    page.get_by_role("link", name=_("Invite and manage staff")).click()
    assert_accessible(page)
    page.get_by_label(_("E-mail address")).fill("anne@skanderborg.example")
    page.get_by_role("button", name=_("Send invitation")).click()
    assert_accessible(page)
    expect(page.get_by_role("status")).to_contain_text("anne@skanderborg.example")
    expect(page.get_by_role("row").filter(has_text="anne@skanderborg.example")).to_contain_text(
        _("Municipal administrator")
    )
