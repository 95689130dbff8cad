"""The shell every role walks through: sign-in, language, start page, audit log.
Pages are read in Danish (the default) through the app's own catalogue."""

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from market.demo import DEMO_PASSWORD
from tests.e2e.conftest import _, assert_accessible, sign_in, sign_out

pytestmark = pytest.mark.browser

HOME = re.compile(r"/$")
LOGIN = re.compile(r"/login$")

# What a person sees on the start page, in the order of shared/home.html.
DEMO_STAFF = [
    (
        "admin@aarhus.example",
        "Anders Admin",
        [
            "Quality standards",
            "Applications",
            "Providers",
            "Citizens",
            "Dashboard",
            "Co-payment statements",
            "Welfare alerts",
            "Supervision",
            "Settlement",
            "Payouts",
            "Audit log",
            "Municipality",
            "Staff",
            "Messages given up on",
            "API tokens",
        ],
    ),
    (
        "revisor@aarhus.example",
        "Rasmus Revisor",
        [
            "Providers",
            "Citizens",
            "Dashboard",
            "Co-payment statements",
            "Supervision",
            "Settlement",
            "Audit log",
        ],
    ),
    (
        "sagsbehandler@aarhus.example",
        "Susanne Sagsbehandler",
        ["Providers", "Citizens", "Welfare alerts", "Supervision"],
    ),
    (
        "platform@velfaerd.example",
        "Pia Platform",
        ["Audit log", "Municipalities", "Messages given up on"],
    ),
]


def focus_indicator(locator: Locator) -> str:
    """The focused element's outline (or 'none'), as the browser draws it."""
    return locator.evaluate(
        """el => {
            const s = getComputedStyle(el);
            if (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) {
                return `${s.outlineStyle} ${s.outlineWidth} ${s.outlineColor}`;
            }
            return s.boxShadow !== 'none' ? s.boxShadow : 'none';
        }"""
    )


def test_login_page_is_danish_by_default_and_switches_to_english(page: Page) -> None:
    page.goto("/login")
    assert_accessible(page)
    assert _("Sign in") != "Sign in", "the Danish catalogue does not translate 'Sign in'"
    expect(page.locator("html")).to_have_attribute("lang", "da")
    expect(page.get_by_role("heading", level=1)).to_have_text(_("Sign in"))
    expect(page.get_by_label(_("E-mail address"))).to_be_visible()

    page.get_by_role("banner").get_by_role("button", name="English").click()
    expect(page).to_have_url(LOGIN)
    assert_accessible(page)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.get_by_label("E-mail address")).to_be_visible()
    expect(page.get_by_role("banner").get_by_role("button", name="Dansk")).to_be_visible()


def test_wrong_password_shows_the_error_sentence(page: Page) -> None:
    page.goto("/login")
    assert_accessible(page)
    sign_in(page, "admin2@aarhus.example", "not-the-password")
    assert_accessible(page)
    expect(page).to_have_url(LOGIN)
    alert = page.get_by_role("alert")
    expect(alert).to_have_text(_("The e-mail address or the password is wrong."))
    email = page.get_by_label(_("E-mail address"))
    expect(email).to_have_value("admin2@aarhus.example")
    expect(email).to_have_attribute("aria-describedby", "login-error")
    expect(page.get_by_role("banner").get_by_role("button", name=_("Sign out"))).to_have_count(0)


@pytest.mark.parametrize(
    ("email", "full_name", "tiles"), DEMO_STAFF, ids=[s[0] for s in DEMO_STAFF]
)
def test_each_demo_role_lands_on_its_start_page(
    page: Page, login_as, email: str, full_name: str, tiles: list[str]
) -> None:
    login_as(page, email)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        _("Welcome, %(name)s") % {"name": full_name}
    )
    expect(page.get_by_role("banner")).to_contain_text(full_name)
    links = page.get_by_role("main").get_by_role("list").first.get_by_role("link")
    titles = links.evaluate_all("links => links.map(a => a.childNodes[0].textContent.trim())")
    assert titles == [_(t) for t in [*tiles, "Second factor"]]


def test_sign_in_and_out_by_keyboard_alone(page: Page) -> None:
    page.goto("/login")
    assert_accessible(page)

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name=_("Skip to content"))
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    assert focus_indicator(skip) != "none"

    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()
    page.keyboard.press("Tab")
    email = page.get_by_label(_("E-mail address"))
    expect(email).to_be_focused()
    assert focus_indicator(email) != "none"
    page.keyboard.type("sagsbehandler@aarhus.example")
    page.keyboard.press("Tab")
    password = page.get_by_label(_("Password"), exact=True)
    expect(password).to_be_focused()
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")

    expect(page).to_have_url(HOME)
    assert_accessible(page)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Susanne Sagsbehandler")

    sign_out_button = page.get_by_role("banner").get_by_role("button", name=_("Sign out"))
    for _step in range(40):
        page.keyboard.press("Tab")
        if sign_out_button.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached the sign-out button")
    assert focus_indicator(sign_out_button) != "none"
    page.keyboard.press("Enter")

    expect(page).to_have_url(LOGIN)
    assert_accessible(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(_("Sign in"))
    page.goto("/")
    expect(page).to_have_url(LOGIN)  # the session really ended
    assert_accessible(page)


def test_auditor_verifies_the_audit_chain(page: Page, login_as) -> None:
    login_as(page, "revisor@aarhus.example")
    menu = page.get_by_role("navigation", name=_("Main menu"))
    menu.get_by_role("link", name=_("Audit log"), exact=True).click()
    expect(page).to_have_url(re.compile(r"/audit$"))
    assert_accessible(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(_("Audit log"))

    page.get_by_role("button", name=_("Verify the audit chain")).click()
    expect(page).to_have_url(re.compile(r"/audit/verify$"))
    assert_accessible(page)
    intact = re.escape(_("The audit chain is intact: %(n)s events checked.")).replace(
        re.escape("%(n)s"), r"([1-9]\d*)"
    )
    expect(page.get_by_role("status")).to_have_text(re.compile(f"^{intact}$"))
    expect(page.get_by_role("alert")).to_have_count(0)
    sign_out(page)
