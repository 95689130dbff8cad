"""The issue's required browser test: a provider applies, an admin approves, the
provider shows as approved; axe-core on every page visited reports no serious or
critical violation. Runs against the demo data (Aarhus Kommune's published
quality standard), in Danish, through the pages' labels and roles."""

import re
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Locator, Page, expect

from providers.demo import DEMO_PDF
from tests.e2e.conftest import _, assert_accessible, sign_in, sign_out

pytestmark = pytest.mark.browser

CVR_WEIGHTS = (2, 7, 6, 5, 4, 3, 2, 1)
PROVIDER_NAME = "Smagen af Søndergade ApS"
PROVIDER_ADMIN = "kok@smagen-af-soendergade.example"
PROVIDER_PASSWORD = "et-langt-kodeord-2026"
# A real one-page PDF: the upload check parses it in full.
PDF = DEMO_PDF


def valid_cvr(first_seven: str) -> str:
    """Completes seven digits to a CVR number that passes the modulus-11 check."""
    partial = sum(w * int(d) for w, d in zip(CVR_WEIGHTS, first_seven, strict=False))
    check = (-partial) % 11
    if check == 10:
        raise ValueError(f"no CVR number starts with {first_seven}")
    return first_seven + str(check)


def message_pattern(message: str, **params: str) -> re.Pattern[str]:
    """A translated message with %(name)s placeholders as a pattern."""
    pattern = re.escape(_(message))
    for name, value in params.items():
        pattern = pattern.replace(re.escape(f"%({name})s"), value)
    return re.compile(pattern)


def numeric_value_meeting(requirement: Locator) -> str:
    """A value inside the threshold the requirement states (at least / at most /
    between), read from the page as the provider reads it."""
    text = requirement.inner_text()
    number = r"(-?\d+(?:[.,]\d+)?)"
    any_text = r".*?"
    between = message_pattern(
        "between %(low)s and %(high)s %(unit)s", low=number, high=number, unit=any_text
    )
    at_least = message_pattern("at least %(low)s %(unit)s", low=number, unit=any_text)
    at_most = message_pattern("at most %(high)s %(unit)s", high=number, unit=any_text)
    if match := between.search(text):
        low, high = (Decimal(g.replace(",", ".")) for g in match.groups()[:2])
        value = (low + high) / 2
    elif match := at_least.search(text):
        value = Decimal(match.group(1).replace(",", ".")) + 1
    elif match := at_most.search(text):
        value = Decimal(match.group(1).replace(",", ".")) - 1
    else:
        raise AssertionError(f"no threshold found in the requirement: {text!r}")
    return format(value.normalize(), "f").replace(".", ",")


def register_provider(page: Page, cvr: str) -> None:
    page.goto("/login")
    assert_accessible(page)
    page.get_by_role("link", name=_("Register your business")).click()
    expect(page).to_have_url(re.compile(r"/providers/register$"))
    assert_accessible(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(_("Register as a provider"))

    fields = {
        "Business name": PROVIDER_NAME,
        "CVR number": cvr,
        "Address": "Søndergade 12",
        "Postal code": "8000",
        "City": "Aarhus C",
        "Contact name": "Karen Kok",
        "Contact e-mail": "kontakt@smagen-af-soendergade.example",
        "Contact phone": "+45 86 12 34 56",
        "Full name": "Karen Kok",
        "Login e-mail": PROVIDER_ADMIN,
        "Password": PROVIDER_PASSWORD,
    }
    for label, value in fields.items():
        page.get_by_label(_(label), exact=True).fill(value)
    page.get_by_role("main").get_by_role("button", name=_("Register"), exact=True).click()

    expect(page).to_have_url(re.compile(r"/provider$"))
    assert_accessible(page)
    expect(page.get_by_role("heading", level=1)).to_contain_text(PROVIDER_NAME)


def apply_to_aarhus(page: Page) -> None:
    """From the provider portal: start the application, give evidence for every
    requirement, submit."""
    aarhus = _("Apply to %(name)s") % {"name": "Aarhus Kommune"}
    page.get_by_role("button", name=aarhus).click()
    expect(page).to_have_url(re.compile(r"/provider/applications/\d+$"))
    assert_accessible(page)
    application_title = _("Application to %(name)s") % {"name": "Aarhus Kommune"}
    expect(page.get_by_role("heading", level=1)).to_have_text(application_title)

    requirements = (
        page.get_by_role("main")
        .get_by_role("group")
        .filter(has=page.get_by_label(_("Statement"), exact=True))
    )
    count = requirements.count()
    assert count > 0, "the demo standard of Aarhus Kommune has no requirements"
    kinds_seen: set[str] = set()
    for i in range(count):
        requirement = requirements.nth(i)
        attest = requirement.get_by_label(_("We meet this requirement"))
        value = requirement.get_by_label(message_pattern("Your value in %(unit)s", unit=".+"))
        document = requirement.get_by_label(_("Upload a document"))
        if attest.count():
            attest.check()
            kinds_seen.add("attestation")
        elif value.count():
            value.fill(numeric_value_meeting(requirement))
            kinds_seen.add("numeric_threshold")
        elif document.count():
            document.set_input_files(
                files=[
                    {"name": f"dokumentation-{i}.pdf", "mimeType": "application/pdf", "buffer": PDF}
                ]
            )
            kinds_seen.add("document")
        else:
            raise AssertionError(
                f"requirement {i} has no evidence field: {requirement.inner_text()!r}"
            )
        requirement.get_by_label(_("Statement"), exact=True).fill(
            "Vi opfylder kravet; se vedlagte dokumentation."
        )

    page.get_by_role("button", name=_("Submit application")).click()
    expect(page).to_have_url(re.compile(r"/provider/applications/\d+\?done=submitted$"))
    assert_accessible(page)
    expect(page.get_by_role("status")).to_have_text(
        _("Your application is submitted. The municipality will review it.")
    )
    expect(page.locator("#application-status")).to_have_text(_("Submitted, awaiting review"))
    # The uploaded documents are listed back by name.
    if "document" in kinds_seen:
        expect(
            page.get_by_role("link", name=re.compile(r"^dokumentation-\d+\.pdf$")).first
        ).to_be_visible()


def approve_as_admin(page: Page, today: str, until: str) -> None:
    menu = page.get_by_role("navigation", name=_("Main menu"))
    menu.get_by_role("link", name=_("Applications"), exact=True).click()
    expect(page).to_have_url(re.compile(r"/applications$"))
    assert_accessible(page)

    row = page.get_by_role("row").filter(has_text=PROVIDER_NAME)
    expect(row).to_have_count(1)
    row.get_by_role("link", name=_("Review")).click()
    expect(page).to_have_url(re.compile(r"/applications/\d+$"))
    assert_accessible(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        _("Application from %(name)s") % {"name": PROVIDER_NAME}
    )

    met = page.get_by_role("radio", name=_("Met"), exact=True)
    sections = page.get_by_role("main").get_by_role("heading", level=3)
    assert met.count() == sections.count() > 0
    for radio in met.all():
        radio.check()
    page.get_by_role("button", name=_("Save decisions")).click()
    expect(page).to_have_url(re.compile(r"/applications/\d+\?done=decisions#approve$"))
    assert_accessible(page)
    expect(page.get_by_role("status")).to_have_text(_("Your decisions are saved."))
    for radio in page.get_by_role("radio", name=_("Met"), exact=True).all():
        expect(radio).to_be_checked()

    page.get_by_label(_("Valid from"), exact=True).fill(today)
    page.get_by_label(_("Valid to"), exact=True).fill(until)
    page.get_by_label(_("Service area (postal codes)")).fill("8000 8200")
    page.get_by_label(_("Daily capacity (units)")).fill("40")
    page.get_by_label(_("Unit price in kroner")).fill("85,00")
    page.get_by_role("button", name=_("Approve provider")).click()
    expect(page).to_have_url(re.compile(r"/applications/\d+\?done=approved$"))
    assert_accessible(page)
    expect(page.get_by_role("status")).to_have_text(_("The provider is approved."))
    expect(page.locator("#application-status")).to_have_text(_("Approved"))


def expect_approved_row(row: Locator) -> None:
    expect(row).to_have_count(1)
    expect(row).to_contain_text(_("Active"))
    for cell in ("8000, 8200", "40", "85,00 kr."):  # service area, daily capacity, unit price
        expect(row.get_by_role("cell", name=cell, exact=True)).to_have_count(1)


def test_provider_applies_admin_approves_provider_shows_as_approved(page: Page, login_as) -> None:
    cvr = valid_cvr("3141592")
    today_date = datetime.now(ZoneInfo("Europe/Copenhagen")).date()
    today = today_date.isoformat()
    until = (today_date + timedelta(days=365)).isoformat()

    register_provider(page, cvr)
    apply_to_aarhus(page)
    sign_out(page)

    login_as(page, "admin@aarhus.example")
    approve_as_admin(page, today, until)
    menu = page.get_by_role("navigation", name=_("Main menu"))
    menu.get_by_role("link", name=_("Providers"), exact=True).click()
    expect(page).to_have_url(re.compile(r"/providers$"))
    assert_accessible(page)
    expect_approved_row(page.get_by_role("row").filter(has_text=PROVIDER_NAME))
    page.get_by_role("link", name=PROVIDER_NAME, exact=True).click()
    expect(page).to_have_url(re.compile(r"/providers/\d+$"))
    assert_accessible(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(PROVIDER_NAME)
    expect(page.get_by_role("main")).to_contain_text(cvr)
    expect(page.get_by_role("button", name=_("Suspend"), exact=True)).to_be_visible()
    sign_out(page)

    sign_in(page, PROVIDER_ADMIN, PROVIDER_PASSWORD)
    expect(page).to_have_url(re.compile(r"/$"))
    assert_accessible(page)
    menu = page.get_by_role("navigation", name=_("Main menu"))
    menu.get_by_role("link", name=_("Provider portal"), exact=True).click()
    expect(page).to_have_url(re.compile(r"/provider$"))
    assert_accessible(page)
    approvals = page.locator("#approvals + table")
    expect_approved_row(approvals.get_by_role("row").filter(has_text="Aarhus Kommune"))
    applications = page.locator("#applications + table").get_by_role("row")
    expect(applications.filter(has_text="Aarhus Kommune")).to_contain_text(_("Approved"))
