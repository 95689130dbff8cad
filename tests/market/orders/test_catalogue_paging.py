"""The catalogue at scale: providers ranked (the citizen's recent providers,
then the nearest, then by name), grouped one card per provider, a few at a
time with "Vis flere" (?side=2); diet and allergies still filter on every page;
the page's statements do not grow with the number of providers."""

import re
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from market.orders import service
from market.orders.catalogue import service as catalogue
from providers.models import Offer, Provider
from tests.factories import World
from tests.market.orders import catalogue_helpers as helpers
from tests.market.orders.conftest import Diner, Kitchen, days_ahead, noon_before, sign_in_citizen
from tests.statements import counting_statements

FITS = helpers.FITS


async def add_kitchen(
    session: AsyncSession, world: World, kitchen: Kitchen, name: str, **kw
) -> Provider:
    return await helpers.add_kitchen(
        session,
        municipality_id=world.municipality.id,
        standard_id=kitchen.approval.standard_id,
        admin_id=world.user("admin").id,
        name=name,
        **kw,
    )


async def page_of(session, diner: Diner, day, page: int = 1) -> catalogue.CataloguePage:
    return await catalogue.catalogue_page(
        session, actor=diner.me, citizen_id=None, delivery_on=day, page=page, now=noon_before(day)
    )


def names(view: catalogue.CataloguePage) -> list[str]:
    return [card.provider.name for card in view.cards]


async def test_a_provider_ordered_from_recently_comes_first(session, world, kitchen, diner):
    added = [await add_kitchen(session, world, kitchen, f"Køkken {n:02d}") for n in range(12)]
    day = days_ahead(3)
    before = await page_of(session, diner, day)
    assert names(before)[0] == "Det Gode Køkken ApS"  # by name, when nothing was ordered
    assert "Køkken 11" not in names(before)  # the 13th of 13 by name: not on the first page
    [meal] = [o for o in await _offers_of(session, added[11])]
    await service.place_order(
        session,
        actor=diner.me,
        citizen_id=None,
        offer_id=meal.id,
        delivery_on=days_ahead(2),
        idempotency_key="recent-1",
        now=noon_before(days_ahead(2)),
    )
    after = await page_of(session, diner, day)
    assert names(after)[0] == "Køkken 11"
    assert after.cards[0].ordered_before and not after.cards[1].ordered_before
    assert (
        names(after)[1:]
        == [n for n in names(before) if n != "Køkken 11"][: catalogue.PAGE_SIZE - 1]
    )


async def _offers_of(session, provider: Provider) -> list[Offer]:
    from sqlalchemy import select

    result = await session.execute(select(Offer).where(Offer.provider_id == provider.id))
    return list(result.scalars())


async def test_nearby_providers_come_before_far_ones(session, world, kitchen, diner):
    # The diner lives in 8200; names are chosen so that by name the order is the reverse.
    await add_kitchen(session, world, kitchen, "A Fjern", postal_code="5000")
    await add_kitchen(session, world, kitchen, "B Samme landsdel", postal_code="8600")
    await add_kitchen(session, world, kitchen, "C Nabo", postal_code="8210")
    await add_kitchen(session, world, kitchen, "D Samme postnummer", postal_code="8200")
    view = await page_of(session, diner, days_ahead(3))
    # Det Gode Køkken ApS is in 8000: the same first digit as 8200, not the first two.
    assert names(view) == [
        "D Samme postnummer",
        "C Nabo",
        "B Samme landsdel",
        "Det Gode Køkken ApS",
        "A Fjern",
    ]


async def test_vis_flere_pages_through_every_provider_once(session, world, kitchen, diner):
    for n in range(19):
        await add_kitchen(session, world, kitchen, f"Køkken {n:02d}")
    day = days_ahead(3)
    pages = [await page_of(session, diner, day, page) for page in (1, 2, 3)]
    assert [len(p.cards) for p in pages] == [8, 8, 4]
    assert [p.total_providers for p in pages] == [20, 20, 20]
    assert [p.more for p in pages] == [12, 4, 0]
    seen = [name for p in pages for name in names(p)]
    assert len(seen) == len(set(seen)) == 20
    assert seen == sorted(seen)  # nothing ordered, all in 8000: by name across pages
    past_the_end = await page_of(session, diner, day, 9)
    assert (past_the_end.page, names(past_the_end)) == (3, names(pages[2]))


async def test_diet_allergies_weekday_and_cut_off_filter_on_every_page(
    session, world, kitchen, diner
):
    diner.citizen.allergies = ["milk"]  # Det Gode Køkken's only meal has milk: not shown
    day = days_ahead(3)
    for n in range(10):
        await add_kitchen(session, world, kitchen, f"Passer {n:02d}")
    await add_kitchen(
        session, world, kitchen, "Aa Mælk", offers=(("Risengrød", ["normal"], ["milk"]),)
    )
    await add_kitchen(
        session, world, kitchen, "Ab Kun blød", offers=(("Suppe", ["soft", "pureed"], []),)
    )
    await add_kitchen(
        session,
        world,
        kitchen,
        "Ac Blandet",
        offers=(("Med mælk", ["normal"], ["milk", "eggs"]), ("Uden mælk", ["normal"], ["eggs"])),
    )
    other_day = str((day + timedelta(days=1)).isoweekday())
    await add_kitchen(session, world, kitchen, "Ad Anden dag", weekdays=other_day)
    await add_kitchen(session, world, kitchen, "Ae For sent", cutoff_days_before=5)
    await add_kitchen(session, world, kitchen, "Af Andet sted", delivers_to=("8000",))
    await add_kitchen(
        session, world, kitchen, "Ag Energitæt", offers=(("Lille ret", ["energy_dense"], []),)
    )
    await session.flush()
    pages = [await page_of(session, diner, day, page) for page in (1, 2)]
    shown = [name for p in pages for name in names(p)]
    assert shown == ["Ac Blandet", *[f"Passer {n:02d}" for n in range(10)]]
    assert pages[0].total_providers == 11 and pages[1].more == 0
    [mixed] = pages[0].cards[:1]
    assert [e.offer.name for e in mixed.entries] == ["Uden mælk"]
    for entry in (e for p in pages for e in p.entries):
        assert "milk" not in entry.offer.allergens and "normal" in entry.offer.diet_forms


async def test_the_pages_statements_do_not_grow_with_the_providers(
    session, engine, world, kitchen, diner
):
    day = days_ahead(3)
    for n in range(2):
        await add_kitchen(session, world, kitchen, f"Køkken {n:02d}")
    with counting_statements(engine) as few:
        await page_of(session, diner, day)
    for n in range(2, 30):
        await add_kitchen(session, world, kitchen, f"Køkken {n:02d}", offers=FITS * 3)
    with counting_statements(engine) as many:
        view = await page_of(session, diner, day)
    assert view.total_providers == 31 and len(view.cards) == catalogue.PAGE_SIZE
    assert many.count == few.count, many.listing()


async def test_the_page_has_a_vis_flere_link_to_the_next_kitchens(
    client, session, world, kitchen, diner
):
    for n in range(9):
        await add_kitchen(session, world, kitchen, f"Køkken {n:02d}")
    await session.commit()
    await sign_in_citizen(client, session, diner)
    day = days_ahead(3)
    first = await client.get(f"/order/{day.isoformat()}")
    assert first.status_code == 200
    assert first.text.count('class="order-kitchen"') == catalogue.PAGE_SIZE
    assert "Here are kitchen 1 to 8 of 10." in first.text
    assert "2 more kitchens have food for you." in first.text
    link = re.search(r'<a [^>]*id="show-more" href="([^"]+)">([^<]+)</a>', first.text)
    assert link and link.groups() == ("?side=2", "Show more kitchens")
    second = await client.get(f"/order/{day.isoformat()}{link.group(1)}")
    assert second.status_code == 200
    assert second.text.count('class="order-kitchen"') == 2
    assert "Here are kitchen 9 to 10 of 10." in second.text
    assert 'id="show-more"' not in second.text
    assert f'href="/order/{day.isoformat()}">Show the kitchens before' in second.text
    assert 'name="side" value="2"' in second.text  # an order from page 2 stays on page 2
    odd = await client.get(f"/order/{day.isoformat()}?side=abc")
    assert odd.status_code == 200 and "Here are kitchen 1 to 8 of 10." in odd.text


async def test_few_kitchens_fit_on_one_page_without_a_link(client, session, kitchen, diner):
    await sign_in_citizen(client, session, diner)
    page = await client.get(f"/order/{days_ahead(3).isoformat()}")
    assert "1 kitchen has food for you this day." in page.text
    assert 'id="show-more"' not in page.text and "Show the kitchens before" not in page.text


async def test_the_api_pages_with_limit_and_offset_and_keeps_its_old_answer(
    client, session, world, kitchen, diner
):
    for n in range(4):
        await add_kitchen(session, world, kitchen, f"Køkken {n:02d}")
    await session.commit()
    await sign_in_citizen(client, session, diner)
    day = days_ahead(3).isoformat()
    everything = (await client.get("/api/v1/catalogue", params={"day": day})).json()
    assert everything["total_providers"] == 5 and len(everything["entries"]) == 5
    by_name = [e["provider_name"] for e in everything["entries"]]
    assert by_name == sorted(by_name)
    pages = [
        (
            await client.get("/api/v1/catalogue", params={"day": day, "limit": 2, "offset": skip})
        ).json()
        for skip in (0, 2, 4, 6)
    ]
    assert [len(p["entries"]) for p in pages] == [2, 2, 1, 0]
    assert {p["total_providers"] for p in pages} == {5}
    assert [e["provider_name"] for p in pages for e in p["entries"]] == by_name
    too_many = await client.get("/api/v1/catalogue", params={"day": day, "limit": 101})
    assert too_many.status_code == 422
