"""The issue's settlement flow in the browser: the admin runs last month, a second
admin approves it (the preparer cannot), the auditor drills from the statement
to a line, its orders and an order's events, and exports the statement as CSV.
axe-core checks every page."""

import csv
import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from market.clock import first_of_month, today
from market.templating import month_words
from tests.e2e.conftest import _, assert_accessible, sign_out

pytestmark = pytest.mark.browser

LAST_MONTH = first_of_month(first_of_month(today()) - timedelta(days=1))
PROVIDER = "Smagfuldt Madservice ApS"


def open_last_month(page: Page) -> None:
    page.get_by_role("navigation", name=_("Main menu")).get_by_role(
        "link", name=_("Settlement"), exact=True
    ).click()
    expect(page).to_have_url(re.compile(r"/settlement$"))
    assert_accessible(page)
    page.get_by_role("link", name=month_words(LAST_MONTH, "da"), exact=True).click()
    expect(page).to_have_url(re.compile(r"/settlement/months/\d{4}-\d{2}"))
    assert_accessible(page)


def test_admin_runs_a_second_admin_approves_and_the_auditor_drills_down(
    page: Page, login_as
) -> None:
    login_as(page, "admin@aarhus.example")
    open_last_month(page)
    page.get_by_role("button", name=_("Run the month again")).click()
    expect(page.get_by_role("status")).to_contain_text(
        _("The month was run. The statements are drafts until a second person approves them.")
    )
    assert_accessible(page)
    # The preparer gets no approve button, only the four-eyes sentence.
    expect(page.get_by_text(_("Another person must approve what you ran."))).to_be_visible()
    expect(page.get_by_role("button", name=re.compile(_("Approve all"), re.I))).to_have_count(0)
    sign_out(page)

    login_as(page, "admin2@aarhus.example")
    open_last_month(page)
    page.get_by_role("button", name=_("Approve all %(n)s draft statements") % {"n": 1}).click()
    expect(page.get_by_role("status")).to_contain_text(
        _("Approved. An approved statement never changes.")
    )
    assert_accessible(page)
    sign_out(page)

    login_as(page, "revisor@aarhus.example")
    open_last_month(page)
    page.get_by_role("link", name=PROVIDER).click()
    expect(page).to_have_url(re.compile(r"/settlement/statements/\d+$"))
    assert_accessible(page)
    main = page.get_by_role("main")
    expect(main).to_contain_text(_("Audit chain at approval"))
    expect(main.locator("code")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    total = main.locator("tfoot").inner_text()

    with page.expect_download() as download:
        page.get_by_role("link", name=_("Download the statement and its orders (CSV)")).click()
    rows = list(csv.reader(io.StringIO(download.value.path().read_text("utf-8")), delimiter=";"))
    facts = {row[0]: row[1] for row in rows if len(row) == 2}
    assert facts["status"] == "approved" and facts["audit_chain_hash"]
    kroner = int(facts["total_ore"]) // 100
    assert f"{kroner:,}".replace(",", ".") in total

    with page.expect_download() as download:
        page.get_by_role("link", name=_("Download the statement and its orders (Excel)")).click()
    book = load_workbook(io.BytesIO(download.value.path().read_bytes()), read_only=True)
    sheet_facts = {key: value for key, value in book["statement"].iter_rows(values_only=True)}
    assert sheet_facts["audit_chain_hash"] == facts["audit_chain_hash"]
    line_rows = list(book["lines"].iter_rows(values_only=True))
    # Amounts are numbers in kroner, to the øre.
    assert line_rows[-1][0] == "total" and round(line_rows[-1][5] * 100) == int(facts["total_ore"])
    assert round(sum(row[5] for row in line_rows[1:-1]) * 100) == int(facts["total_ore"])
    order_rows = list(book["orders"].iter_rows(values_only=True))[1:]
    assert order_rows, "the Excel export lists the orders behind the lines"

    page.get_by_role("link", name=_("Check this statement against the audit chain")).click()
    expect(page).to_have_url(re.compile(r"/settlement/statements/\d+/chain-check$"))
    assert_accessible(page)
    expect(page.get_by_role("status")).to_contain_text(
        _(
            "Passed: the history under this statement was not rewritten, "
            "and the statement is as it was approved."
        )
    )
    page.get_by_role("link", name=_("Back to the statement")).click()
    assert_accessible(page)

    page.get_by_role(
        "link", name=re.compile(r"^\d+ " + _("%(n)s orders").split(" ", 1)[1])
    ).first.click()
    expect(page).to_have_url(re.compile(r"/settlement/lines/\d+"))
    assert_accessible(page)
    page.get_by_role("table").get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/settlement/orders/\d+$"))
    assert_accessible(page)
    expect(page.get_by_role("heading", name=_("What happened to the order"))).to_be_visible()
