"""Co-production in the browser, the whole path: an association registers and
the municipality approves it; its coordinator publishes a meal-companion
activity and adds a volunteer, who sets a password from the invitation link;
Karen asks for a meal companion; the coordinator proposes the volunteer; Karen
accepts (knowing observations may reach her case worker) and sees the visit on
"Mine bestillinger"; the volunteer holds today's visit and notes that she seems
lonely; the case worker reads it in the welfare queue. axe-core checks every page."""

import re
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import _, assert_accessible, sign_in, sign_out

pytestmark = pytest.mark.browser

ASSOCIATION = "Naboer ved Bordet"
COORDINATOR = "koordinator@naboer-ved-bordet.example"
VOLUNTEER = "vera@naboer-ved-bordet.example"
PASSWORD = "et-langt-kodeord-2026"
CITIZEN = "karen.jensen@borger.example"
ADMIN = "admin@aarhus.example"
CASE_WORKER = "sagsbehandler@aarhus.example"


def goto(page: Page, path: str) -> None:
    page.goto(path)
    assert_accessible(page)


def log_in(page: Page, email: str, password: str | None = None) -> None:
    goto(page, "/login")
    if password:
        sign_in(page, email, password)
    else:
        sign_in(page, email)
    expect(page).to_have_url(re.compile(r"/$"))
    assert_accessible(page)


def test_association_volunteer_and_citizen_the_whole_way(page: Page) -> None:
    # An association registers against the municipality's standard.
    goto(page, "/community/register")
    page.get_by_label(_("Municipality"), exact=True).select_option(label="Aarhus Kommune")
    page.get_by_label(_("Name of the association")).fill(ASSOCIATION)
    page.get_by_label(_("Contact e-mail")).fill(COORDINATOR)
    for text in (
        "Every volunteer who visits homes has had a criminal-record check before the first visit.",
        "The association has a named coordinator who answers for its volunteers.",
    ):
        page.get_by_label(_(text)).check()
    page.get_by_label(_("Full name")).fill("Kaj Koordinator")
    page.get_by_label(_("Login e-mail")).fill(COORDINATOR)
    page.get_by_label(_("Password"), exact=True).fill(PASSWORD)
    page.get_by_role("button", name=_("Register")).click()
    assert_accessible(page)
    # One point of the standard is missing: refused, in words, and nothing is lost.
    expect(page.get_by_role("alert")).to_have_text(
        _("The association must vouch for every point of the municipality's standard.")
    )
    expect(page.get_by_label(_("Name of the association"))).to_have_value(ASSOCIATION)
    page.get_by_role("checkbox").nth(2).check()
    page.get_by_label(_("Password"), exact=True).fill(PASSWORD)
    page.get_by_role("button", name=_("Register")).click()
    expect(page).to_have_url(re.compile(r"/community/partner"))
    assert_accessible(page)
    expect(page.get_by_role("main")).to_contain_text(_("Waiting for the municipality"))
    sign_out(page)

    # The municipality approves it.
    log_in(page, ADMIN)
    page.get_by_role("navigation").get_by_role("link", name=_("Associations")).click()
    assert_accessible(page)
    row = page.get_by_role("row").filter(has_text=ASSOCIATION)
    row.get_by_role("button", name=_("Approve")).click()
    assert_accessible(page)
    expect(page.get_by_role("row").filter(has_text=ASSOCIATION)).to_contain_text(_("Approved"))
    sign_out(page)

    # The coordinator publishes a meal companion on weekdays and adds a volunteer.
    log_in(page, COORDINATOR, PASSWORD)
    page.get_by_role("navigation").get_by_role("link", name=_("My association")).click()
    assert_accessible(page)
    page.get_by_label(_("Name"), exact=True).fill("Spiseven i hverdagen")
    for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"):
        page.get_by_role("group", name=_("Weekdays (meal companion)")).get_by_label(_(day)).check()
    page.get_by_role("button", name=_("Publish the activity")).click()
    assert_accessible(page)
    expect(page.locator("li[id^=activity-]")).to_contain_text("Spiseven i hverdagen")
    page.locator("#volunteer-full_name").fill("Vera Frivillig")
    page.locator("#volunteer-email").fill(VOLUNTEER)
    page.get_by_role("button", name=_("Add the volunteer")).click()
    assert_accessible(page)
    link = page.locator("#invitation-link").get_attribute("href")
    assert link
    sign_out(page)

    # The volunteer chooses a password from the invitation.
    goto(page, urlparse(link).path)
    page.get_by_label(_("Password"), exact=True).fill(PASSWORD)
    page.get_by_label(_("The password again")).fill(PASSWORD)
    page.get_by_role("button", name=_("Start using Velfærdsmarked")).click()
    assert_accessible(page)
    page.get_by_role("navigation").get_by_role("link", name=_("My visits")).click()
    assert_accessible(page)
    expect(page.get_by_role("main")).to_contain_text(_("You have no matches at the moment."))
    sign_out(page)

    # Karen asks for a meal companion.
    log_in(page, CITIZEN)
    page.get_by_role("navigation").get_by_role("link", name=_("Company and shared meals")).click()
    assert_accessible(page)
    page.get_by_role(
        "button", name=re.compile(_("Ask for a meal companion") + ".*" + ASSOCIATION)
    ).click()
    assert_accessible(page)
    expect(page.get_by_role("main")).to_contain_text(
        _("Asked; the association is finding a volunteer")
    )
    sign_out(page)

    # The coordinator proposes Vera.
    log_in(page, COORDINATOR, PASSWORD)
    goto(page, "/community/partner")
    request = page.locator("[id^=request-]").filter(has_text="Karen")
    request.get_by_label(_("Volunteer")).select_option(label="Vera")
    request.get_by_role("button", name=_("Propose") + " Karen").click()
    assert_accessible(page)
    sign_out(page)

    # Karen accepts, knowing an observation may reach her case worker.
    log_in(page, CITIZEN)
    goto(page, "/community")
    proposal = page.locator("[id^=request-]").filter(has_text=ASSOCIATION)
    accept = proposal.get_by_role("button", name=_("Yes, %(name)s is welcome") % {"name": "Vera"})
    accept.click()
    assert_accessible(page)
    expect(page.get_by_role("alert")).to_contain_text(
        _(
            "Please confirm that you know the volunteer may tell your case worker if "
            "something seems wrong."
        )
    )
    proposal = page.locator("[id^=request-]").filter(has_text=ASSOCIATION)
    proposal.get_by_label(_("I know this and accept")).check()
    proposal.get_by_role("button", name=_("Yes, %(name)s is welcome") % {"name": "Vera"}).click()
    assert_accessible(page)
    expect(page.locator("[id^=request-]").filter(has_text=ASSOCIATION)).to_contain_text(
        _("Matched")
    )
    page.get_by_role("navigation").get_by_role("link", name=_("My orders")).click()
    assert_accessible(page)
    expect(page.get_by_role("main")).to_contain_text(
        _("visit by your meal companion %(name)s") % {"name": "Vera"}
    )
    sign_out(page)

    # Vera sees only what the visit needs, holds today's visit and notes loneliness.
    log_in(page, VOLUNTEER, PASSWORD)
    goto(page, "/volunteer")
    match = page.locator("[id^=match-]").first
    expect(match.get_by_role("heading", level=2)).to_have_text("Karen")
    expect(page.get_by_role("main")).not_to_contain_text("Jensen")
    visit = match.locator("[id^=visit-]").first
    visit.get_by_label(_("Seems lonely")).check()
    visit.get_by_label(_("In your own words (optional)")).fill("Spurgte efter sin søster")
    visit.get_by_role("button", name=re.compile(_("The visit was held"))).click()
    assert_accessible(page)
    expect(page.get_by_role("main")).to_contain_text(_("held"))
    sign_out(page)

    # The case worker reads it in the welfare queue.
    log_in(page, CASE_WORKER)
    goto(page, "/alerts")
    expect(page.get_by_role("main")).to_contain_text("virker ensom")
    expect(page.get_by_role("main")).to_contain_text("Spurgte efter sin søster")
