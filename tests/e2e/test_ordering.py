"""The issue's ordering tests in the browser: a citizen orders a meal in three steps
from the start page, the kitchen accepts, sends and delivers it and the citizen sees
it delivered; a failed 'citizen absent' delivery reaches the case worker as a welfare
alert; and the ordering path works by keyboard alone. axe-core checks every page.

The e2e database is shared by the package, so each test uses its own delivery day
(Karen Jensen orders on different days) and finds its rows by order number or by a
note it wrote itself, never by counting."""

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from playwright.sync_api import Locator, Page, expect

from market.demo import DEMO_PASSWORD
from tests.e2e.conftest import _, assert_accessible, sign_in, sign_out

pytestmark = pytest.mark.browser

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
CITIZEN = "karen.jensen@borger.example"
CITIZEN_NAME = "Karen Margrethe Jensen"
KITCHEN_STAFF = "kok@smagfuldt.example"
CASE_WORKER = "sagsbehandler@aarhus.example"
PROVIDER = "Smagfuldt Madservice ApS"
MILK_FREE_MEAL = "Kylling i tomat med ris"  # the only demo dish Karen (milk allergy) may have
# The demo provider takes orders until 14:00 the day before; keep a margin for the test.
LAST_SAFE_ORDER_TIME = time(13, 45)
HOME = re.compile(r"/$")


def now_local() -> datetime:
    return datetime.now(COPENHAGEN)


def day_words(day: date) -> str:
    """The day as the Danish pages write it, e.g. 'mandag 23. november'."""
    return format_date(day, "EEEE d. MMMM", locale="da_DK")


def first_open_day() -> tuple[date, bool]:
    """Tomorrow while its cut-off (14:00 today) is still ahead, else the day after;
    and whether that day is tomorrow."""
    now = now_local()
    tomorrow = now.date() + timedelta(days=1)
    if now.time() < LAST_SAFE_ORDER_TIME:
        return tomorrow, True
    return tomorrow + timedelta(days=1), False


def order_id_from(page: Page) -> int:
    match = re.search(r"/orders/(\d+)\?placed=1$", page.url)
    assert match, f"not on an order confirmation: {page.url}"
    return int(match.group(1))


def start_tile(page: Page, name: str) -> Locator:
    return page.get_by_role("main").get_by_role("link", name=_(name))


def open_kitchen_day(page: Page, day: date) -> None:
    """From the start page: the kitchen tile, then the board for ``day``."""
    start_tile(page, "Kitchen").click()
    expect(page).to_have_url(re.compile(r"/kitchen$"))
    assert_accessible(page)
    page.get_by_label(_("Delivery day")).fill(day.isoformat())
    page.get_by_role("button", name=_("Show day")).click()
    expect(page).to_have_url(re.compile(rf"/kitchen\?day={day.isoformat()}$"))
    assert_accessible(page)


def expect_kitchen_notice(page: Page, message: str) -> None:
    expect(page).to_have_url(re.compile(r"/kitchen\?day=.*&done="))
    assert_accessible(page)
    expect(page.get_by_role("status")).to_have_text(_(message))


def select_order(page: Page, order_id: int) -> Locator:
    return page.get_by_label(
        _("Select order %(id)s for %(name)s") % {"id": order_id, "name": CITIZEN_NAME},
        exact=True,
    )


def test_citizen_orders_kitchen_delivers_citizen_sees_it_delivered(page: Page, login_as) -> None:
    day, is_tomorrow = first_open_day()

    # The citizen: start page -> choose the day -> order the meal that fits her.
    login_as(page, CITIZEN)
    start_tile(page, "Order meals").click()  # step 1
    expect(page).to_have_url(re.compile(r"/order$"))
    assert_accessible(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(_("Which day do you want food?"))
    tomorrow_day = now_local().date() + timedelta(days=1)
    if is_tomorrow:
        day_link = page.get_by_role("link", name=re.compile(rf"^{_('Tomorrow')}\b"))
        expect(day_link).to_contain_text(day_words(tomorrow_day))
    else:
        # After the cut-off tomorrow is no longer a link: it says it is too late,
        # and the first day still open is ordered instead.
        closed = (
            page.get_by_role("main")
            .get_by_role("listitem")
            .filter(has_text=day_words(tomorrow_day))
        )
        expect(closed).to_contain_text(_("Tomorrow"))
        too_late = _("Too late. The deadline was %(when)s.").split("%(when)s")[0]
        expect(closed).to_contain_text(too_late.strip())
        expect(closed.get_by_role("link")).to_have_count(0)
        day_link = page.get_by_role("link", name=re.compile(re.escape(day_words(day))))
    expect(day_link).to_have_attribute("href", f"/order/{day.isoformat()}")
    day_link.click()  # step 2
    expect(page).to_have_url(re.compile(rf"/order/{day.isoformat()}$"))
    assert_accessible(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        _("Meals for %(day)s") % {"day": day_words(day)}
    )
    meals = page.get_by_role("main").get_by_role("heading", level=3)  # h2: the kitchen
    expect(meals).to_have_text([MILK_FREE_MEAL])  # the meals with milk are not offered to her
    page.get_by_role("button", name=f"{_('Order')} {MILK_FREE_MEAL}").click()  # step 3

    expect(page).to_have_url(re.compile(r"/orders/\d+\?placed=1$"))
    assert_accessible(page)
    order_id = order_id_from(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(_("Thank you – your meal is ordered"))
    expect(page.locator("#order-summary")).to_have_text(
        _("%(meal)s from %(provider)s, delivered %(day)s between %(start)s and %(end)s.")
        % {
            "meal": MILK_FREE_MEAL,
            "provider": PROVIDER,
            "day": day_words(day),
            "start": "11:00",
            "end": "13:00",
        }
    )
    main = page.get_by_role("main")
    expect(main).to_contain_text(
        f"{_('Status:')} {_('Ordered, waiting for the kitchen to confirm')}"
    )
    # cancelling asks first: a link to the question, not a button under the thank-you
    expect(main.get_by_role("link", name=_("Cancel the meal"))).to_be_visible()
    sign_out(page)

    # The provider's staff: accept now; sending out (and so delivering or failing)
    # waits for the delivery day, and the kitchen is told so in words.
    sign_in(page, KITCHEN_STAFF)
    expect(page).to_have_url(HOME)
    assert_accessible(page)
    open_kitchen_day(page, day)
    select_order(page, order_id).check()
    page.get_by_role("button", name=_("Accept selected")).click()
    expect_kitchen_notice(page, "The selected orders are accepted.")
    select_order(page, order_id).check()  # now in the accepted table
    page.get_by_role("button", name=_("Selected out for delivery")).click()
    expect(page.get_by_role("alert")).to_have_text(
        _(
            "This order is for {day}. It can be sent out, delivered or marked as failed "
            "from its delivery day."
        ).format(day=day.isoformat())
    )
    assert_accessible(page)
    expect(select_order(page, order_id)).to_be_visible()  # still accepted, nothing moved
    sign_out(page)


def test_citizen_absent_raises_an_alert_the_case_worker_acknowledges(page: Page, login_as) -> None:
    today = now_local().date()
    driver_note = f"Ingen lukkede op kl. {now_local():%H:%M:%S}; naboen har ikke set hende."
    done_note = "Ringede til kontaktpersonen, som kørte derhen; borgeren var faldet og er tilset."

    # The kitchen: one of today's orders out for delivery; the citizen did not open.
    login_as(page, KITCHEN_STAFF)
    open_kitchen_day(page, today)
    out = page.get_by_role("table", name=_("Out for delivery")).get_by_role("row")
    row = out.filter(has=page.get_by_label(_("Why"))).first
    expect(row).to_be_visible()
    order_id = row.get_by_role("rowheader").inner_text().lstrip("#")
    citizen_name = row.get_by_role("cell").nth(0).inner_text().splitlines()[0].strip()
    row.get_by_label(_("Why")).select_option(label=_("Citizen did not open the door"))
    row.get_by_label(_("Note")).fill(driver_note)
    row.get_by_role(
        "button", name=_("Record failed delivery of order %(id)s") % {"id": order_id}
    ).click()
    expect_kitchen_notice(page, "The failed delivery is recorded.")
    finished = page.get_by_role("table", name=_("Finished")).get_by_role("row")
    expect(finished.filter(has_text=f"#{order_id}")).to_contain_text(
        f"{_('Not delivered')}: {_('Citizen did not open the door')}"
    )
    sign_out(page)

    # The case worker: the alert names the citizen; acknowledged with a note.
    login_as(page, CASE_WORKER)
    start_tile(page, "Welfare alerts").click()
    expect(page).to_have_url(re.compile(r"/alerts$"))
    assert_accessible(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(_("Welfare alerts"))
    alert = page.get_by_role("listitem").filter(has_text=driver_note)
    expect(alert).to_have_count(1)
    expect(alert.get_by_role("heading", level=3)).to_contain_text(citizen_name)
    alert.get_by_label(_("What was done")).fill(done_note)
    alert.get_by_role(
        "button", name=_("Acknowledge alert for %(name)s") % {"name": citizen_name}
    ).click()

    expect(page).to_have_url(re.compile(r"/alerts\?done=acknowledged$"))
    assert_accessible(page)
    expect(page.get_by_role("status")).to_have_text(_("The alert is acknowledged."))
    expect(page.get_by_role("listitem").filter(has_text=driver_note)).to_have_count(0)
    acknowledged = page.get_by_role("row").filter(has_text=done_note)
    expect(acknowledged).to_have_count(1)
    expect(acknowledged.get_by_role("rowheader")).to_have_text(citizen_name)


def tab_to(page: Page, target: Locator, limit: int = 80) -> None:
    """Presses Tab until ``target`` has the focus."""
    for _step in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    pytest.fail(f"Tab never reached {target}")


def test_ordering_by_keyboard_alone(page: Page) -> None:
    # A day of its own, later than the first test's, so both can run in any order.
    day = now_local().date() + timedelta(days=5)

    page.goto("/login")
    assert_accessible(page)
    tab_to(page, page.get_by_label(_("E-mail address")))
    page.keyboard.type(CITIZEN)
    page.keyboard.press("Tab")
    expect(page.get_by_label(_("Password"), exact=True)).to_be_focused()
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(HOME)
    assert_accessible(page)

    tile = start_tile(page, "Order meals")
    tab_to(page, tile)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/order$"))
    assert_accessible(page)

    day_link = page.get_by_role("link", name=re.compile(re.escape(day_words(day))))
    tab_to(page, day_link)
    assert page.evaluate("document.activeElement.getAttribute('href')") == (
        f"/order/{day.isoformat()}"
    )
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/order/{day.isoformat()}$"))
    assert_accessible(page)

    order = page.get_by_role("button", name=f"{_('Order')} {MILK_FREE_MEAL}")
    tab_to(page, order)
    assert page.evaluate("document.activeElement.closest('li').id").startswith("offer-")
    page.keyboard.press("Space")

    expect(page).to_have_url(re.compile(r"/orders/\d+\?placed=1$"))
    assert_accessible(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(_("Thank you – your meal is ordered"))
    expect(page.locator("#order-summary")).to_contain_text(day_words(day))
    expect(page.locator("#order-summary")).to_contain_text(MILK_FREE_MEAL)
