"""Every page a role's start page leads to opens and passes axe: the sweep that
catches an accessibility fault on a page no flow test happens to visit."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer, _, assert_accessible

pytestmark = pytest.mark.browser


def demo_login(live_server: LiveServer, who_starts_with: str) -> str:
    matches = [email for who, email in live_server.logins if who.startswith(who_starts_with)]
    assert matches, f"the demo has no login described as {who_starts_with!r}"
    return matches[0]


@pytest.mark.parametrize(
    "who",
    [
        "municipal admin, Aarhus",
        "auditor, Aarhus",
        "provider admin, approved in Aarhus and Odense",
        "citizen, Aarhus",
        "association coordinator, Aarhus",
        "volunteer, matched with Karen",
    ],
)
def test_every_start_page_tile_opens_an_accessible_page(
    page: Page, login_as, live_server: LiveServer, who: str
) -> None:
    """Which tiles each role gets is checked in test_shell; here each one is opened."""
    login_as(page, demo_login(live_server, who))
    tiles = page.get_by_role("main").get_by_role("list").first.get_by_role("link")
    hrefs = [tile.get_attribute("href") for tile in tiles.all()]
    assert len(hrefs) >= 2, f"start page of {who} has only these tiles: {hrefs}"
    for href in hrefs:
        assert href and href.startswith("/")
        response = page.goto(href)
        assert response is not None and response.ok, (
            f"{href} answered {response and response.status}"
        )
        assert_accessible(page)
        expect(page.get_by_role("heading", level=1)).not_to_have_text(_("Not found"))


def test_admin_opens_the_published_quality_standard(page: Page, login_as) -> None:
    login_as(page, "admin@aarhus.example")
    page.get_by_role("navigation", name=_("Main menu")).get_by_role(
        "link", name=_("Quality standards"), exact=True
    ).click()
    assert_accessible(page)
    row = page.get_by_role("row").filter(
        has=page.get_by_role("cell", name=_("Published"), exact=True)
    )
    expect(row).to_have_count(1)
    row.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/standards/\d+$"))
    assert_accessible(page)
    expect(page.get_by_role("main")).to_contain_text("Kølekæde under levering")
