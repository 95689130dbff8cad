"""The everyday in the browser: a relative pauses the meals for a hospital stay;
the driver works today's route on a phone (touch, a narrow screen), with a tap
kept while the phone is offline and sent when the connection returns. axe-core
checks every page."""

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import DEFAULT_TIMEOUT_MS, LiveServer, _, assert_accessible, sign_in

pytestmark = pytest.mark.browser

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
KITCHEN_STAFF = "kok@smagfuldt.example"
RELATIVE = "henrik.soerensen@paaroerende-aarhus.example"
RELATIVE_OF = "Aase Sørensen"


def today() -> date:
    return datetime.now(COPENHAGEN).date()


@pytest.fixture
def phone(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A phone: 390×844 CSS px, touch, a mobile browser."""
    context = browser.new_context(
        base_url=live_server.url,
        locale="da-DK",
        timezone_id="Europe/Copenhagen",
        viewport={"width": 390, "height": 844},
        has_touch=True,
        is_mobile=True,
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def test_a_relative_pauses_the_meals_for_a_hospital_stay(page: Page, login_as) -> None:
    first = today() + timedelta(days=20)
    back = first + timedelta(days=5)
    login_as(page, RELATIVE)
    page.goto("/order")
    assert_accessible(page)
    expect(page.locator("#ordering-for")).to_contain_text(RELATIVE_OF)
    page.get_by_role("link", name=_("Pause the meals")).click()
    expect(page).to_have_url(re.compile(r"/citizens/\d+/pause$"))
    assert_accessible(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(_("Pause the meals"))
    # Nothing is chosen for them: sending at once says what is missing, keeps the dates
    page.get_by_label(_("First day without meals")).fill(first.isoformat())
    page.get_by_role("button", name=_("Pause the meals")).click()
    assert_accessible(page)
    expect(page.get_by_role("alert")).to_have_text(_("Choose why the meals should pause."))
    expect(page.get_by_label(_("First day without meals"))).to_have_value(first.isoformat())

    page.get_by_role("radio", name=_("Hospital stay")).check()
    page.locator("#resumes_on").fill(back.isoformat())
    page.get_by_role("button", name=_("Pause the meals")).click()
    assert_accessible(page)
    expect(page.locator("#pause-done")).to_contain_text(_("The pause is saved."))
    pause = page.get_by_role("listitem").filter(has_text=_("Hospital stay"))
    expect(pause).to_have_count(1)

    # Home already the day it began: the relative ends it now; the pause is gone
    pause.get_by_role("button", name=_("End the pause now")).click()
    assert_accessible(page)
    expect(page.locator("#pause-done")).to_contain_text(_("The pause is called off."))
    expect(page.get_by_role("listitem").filter(has_text=_("Hospital stay"))).to_have_count(0)


def test_the_driver_works_the_route_on_a_phone_and_a_tap_survives_no_signal(
    phone: Page,
) -> None:
    phone.goto("/login")
    assert_accessible(phone)
    sign_in(phone, KITCHEN_STAFF)
    phone.goto("/driver")
    assert_accessible(phone)
    expect(phone.get_by_role("heading", level=1)).to_have_text(_("Today's route"))
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the route scrolls sideways on a phone: {width} px"

    # The demo's meal still in the kitchen (accepted): the one this test may drive.
    stop = phone.locator("li.stop").filter(has_text=_("Accepted")).first
    expect(stop).to_be_visible()
    stop_id = stop.get_attribute("id")
    buttons = stop.get_by_role("button")
    for i in range(buttons.count()):
        box = buttons.nth(i).bounding_box()
        assert box and box["width"] >= 44 and box["height"] >= 44, box

    # No signal: the tap is kept and the page says it was not sent yet.
    stop.get_by_text(_("Something seems wrong (optional)")).tap()
    stop.get_by_label(_("Yesterday's meal is untouched")).tap()
    phone.context.set_offline(True)
    stop.get_by_role("button", name=re.compile(f"^{_('Delivered')}")).tap()
    queue = phone.locator("#driver-queue")
    expect(queue).to_contain_text("ikke sendt endnu")
    assert phone.evaluate("JSON.parse(localStorage.getItem('velfaerd.driver.taps')).length") == 1
    assert_accessible(phone)

    # Signal again: sent once, the stop is done, the queue is empty.
    phone.context.set_offline(False)
    number = stop_id.removeprefix("stop-")
    expect(queue).to_have_text(_("Stop {number}: delivered.").format(number=number))
    assert phone.evaluate("JSON.parse(localStorage.getItem('velfaerd.driver.taps')).length") == 0
    phone.reload()
    assert_accessible(phone)
    done = phone.locator(f"#{stop_id}")
    expect(done).to_contain_text(_("Delivered"))
    expect(done.get_by_role("button", name=re.compile(f"^{_('Delivered')}"))).to_have_count(0)


def test_a_citizen_cancels_asked_once_then_told_it_was_free(page: Page, login_as) -> None:
    day = today() + timedelta(days=5)
    login_as(page, "karen.jensen@borger.example")
    page.goto(f"/order/{day.isoformat()}")
    assert_accessible(page)
    page.get_by_role("main").get_by_role("button", name=re.compile(f"^{_('Order')}")).first.click()
    expect(page).to_have_url(re.compile(r"/orders/\d+\?placed=1$"))
    assert_accessible(page)
    # the thank-you has no red button under it: cancelling is a link further down
    expect(page.locator("main .danger")).to_have_count(0)
    page.get_by_role("link", name=_("Cancel the meal")).click()
    expect(page).to_have_url(re.compile(r"/orders/\d+/cancel$"))
    assert_accessible(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(_("Cancel the meal?"))
    expect(page.get_by_role("main")).to_contain_text(_("It is free. You do not pay for the meal."))
    page.get_by_role("button", name=_("Yes, cancel")).click()
    expect(page).to_have_url(re.compile(r"/orders/\d+\?cancelled=1#cancel-done$"))
    assert_accessible(page)
    expect(page.locator("#cancel-done")).to_have_text(
        _("The meal is cancelled. You do not pay for it.")
    )
