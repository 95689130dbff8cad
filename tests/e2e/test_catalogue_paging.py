"""The catalogue a few kitchens at a time in the browser: with more kitchens
delivering to a citizen than fit on the page, "Vis flere køkkener" is a plain
link (no JavaScript needed) to the next ones, both pages pass axe, and a meal
from the second page is ordered in one more tap.

The e2e database is shared by the package: the kitchens are added for Bent
Rasmussen's postal code in Odense (5200), whom no other browser test orders for."""

import asyncio
import re
from datetime import date, timedelta

import pytest
from babel.dates import format_date
from playwright.sync_api import Page, expect
from sqlalchemy import select

from market.auth.models import Role, User
from market.clock import today
from market.db import create_engine
from providers.models import QualityStandard
from tests.e2e.conftest import LiveServer, _, _in_thread, assert_accessible
from tests.market.orders.catalogue_helpers import add_kitchen
from vouchers.models import Citizen

pytestmark = pytest.mark.browser

CITIZEN = "bent.rasmussen@borger.example"
ADDED = 9  # with the demo's own kitchen(s) for 5200: more than one page of 8


async def _add_kitchens(live_server: LiveServer) -> None:
    from sqlalchemy.ext.asyncio import AsyncSession

    engine = create_engine(live_server.settings)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            user = (await session.execute(select(User).where(User.email == CITIZEN))).scalar_one()
            citizen = (
                await session.execute(select(Citizen).where(Citizen.user_id == user.id))
            ).scalar_one()
            standard = (
                await session.execute(
                    select(QualityStandard)
                    .where(QualityStandard.municipality_id == citizen.municipality_id)
                    .limit(1)
                )
            ).scalar_one()
            admin = (
                await session.execute(
                    select(User)
                    .where(
                        User.municipality_id == citizen.municipality_id,
                        User.role == Role.MUNICIPAL_ADMIN,
                    )
                    .limit(1)
                )
            ).scalar_one()
            for n in range(ADDED):
                await add_kitchen(
                    session,
                    municipality_id=citizen.municipality_id,
                    standard_id=standard.id,
                    admin_id=admin.id,
                    name=f"Fynsk Køkken {n + 1:02d}",
                    postal_code="5000",
                    delivers_to=(citizen.postal_code,),
                    offers=(("Boller i karry med ris", ["normal"], []),),
                )
            await session.commit()
    finally:
        await engine.dispose()


def day_words(day: date) -> str:
    return format_date(day, "EEEE d. MMMM", locale="da_DK")


def test_vis_flere_shows_the_next_kitchens_and_a_meal_there_is_ordered(
    page: Page, login_as, live_server: LiveServer
) -> None:
    _in_thread(asyncio.run, _add_kitchens(live_server))
    day = today() + timedelta(days=3)  # after every demo cut-off

    login_as(page, CITIZEN)
    page.get_by_role("main").get_by_role("link", name=_("Order meals")).click()
    expect(page).to_have_url(re.compile(r"/order$"))
    assert_accessible(page)
    page.get_by_role("link", name=re.compile(re.escape(day_words(day)))).click()
    expect(page).to_have_url(re.compile(rf"/order/{day.isoformat()}$"))
    assert_accessible(page)

    main = page.get_by_role("main")
    kitchens = main.locator("li.order-kitchen")
    expect(kitchens).to_have_count(8)
    first_page = kitchens.get_by_role("heading", level=2).all_inner_texts()
    more = main.get_by_role("link", name=_("Show more kitchens"))
    expect(more).to_have_attribute("href", "?side=2")
    expect(main.get_by_role("navigation", name=_("More kitchens"))).to_contain_text(
        re.compile(r"Der er \d+ køkken(er)? mere med mad til dig\.")
    )
    more.click()

    expect(page).to_have_url(re.compile(rf"/order/{day.isoformat()}\?side=2$"))
    assert_accessible(page)
    expect(main.locator("#kitchens-shown")).to_contain_text("Her er køkken 9 til")
    second_page = kitchens.get_by_role("heading", level=2).all_inner_texts()
    assert second_page and not set(second_page) & set(first_page)
    assert len(first_page) + len(second_page) >= ADDED + 1
    back = main.get_by_role("link", name=_("Show the kitchens before"))
    expect(back).to_have_attribute("href", f"/order/{day.isoformat()}")

    meal = "Boller i karry med ris"
    kitchen = main.locator("li.order-kitchen").filter(has_text=meal).first
    kitchen_name = kitchen.get_by_role("heading", level=2).inner_text()
    kitchen.get_by_role("button", name=f"{_('Order')} {meal}").click()
    expect(page).to_have_url(re.compile(r"/orders/\d+\?placed=1$"))
    assert_accessible(page)
    expect(page.locator("#order-summary")).to_contain_text(meal)
    expect(page.locator("#order-summary")).to_contain_text(kitchen_name)
