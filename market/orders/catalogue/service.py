"""The catalogue: what a citizen may order for a day, and whom they call for help."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.permissions import Actor
from market.clock import COPENHAGEN
from market.db import utcnow
from market.errors import InvalidInput
from market.municipalities import service as municipalities
from market.orders.catalogue import repository
from market.orders.exceptions import ContainsAllergen, NotOfferedThatDay, WrongDietForm
from market.orders.moves.service import ORDER_DAYS_AHEAD, cutoff_for, paused_on, today_of
from providers import service as providers
from providers.models import Approval, Offer, OrderingProfile, Provider
from vouchers import service as vouchers
from vouchers.models import Citizen, VoucherGrant


@dataclass(frozen=True)
class CatalogueEntry:
    offer: Offer
    provider: Provider
    approval: Approval
    unit_price_ore: int
    copayment_ore: int
    cutoff_at: datetime

    @property
    def municipality_pays_ore(self) -> int:
        return self.unit_price_ore - self.copayment_ore


@dataclass(frozen=True)
class Catalogue:
    citizen: Citizen
    grant: VoucherGrant | None
    delivery_on: date
    entries: list[CatalogueEntry]
    # When nothing can be ordered because the cut-off has passed: when it was,
    # and the first later day that can still be ordered.
    closed_at: datetime | None = None
    next_open_on: date | None = None
    paused: bool = False


def fits(offer: Offer, citizen: Citizen, grant: VoucherGrant, day: date) -> None:
    """Raises the first reason the citizen may not have this offer that day."""
    if not offer.active or not offer.offered_on(day.isoweekday()):
        raise NotOfferedThatDay(day)
    check_diet(offer, citizen, grant)


def check_diet(offer: Offer, citizen: Citizen, grant: VoucherGrant) -> None:
    """Raises when the offer does not fit the grant's diet form or contains
    something the citizen may not eat."""
    if grant.diet_form.value not in offer.diet_forms:
        raise WrongDietForm(grant.diet_form.value)
    forbidden = sorted(set(offer.allergens) & (set(citizen.allergies) | set(grant.allergies)))
    if forbidden:
        raise ContainsAllergen(", ".join(forbidden))


# The catalogue page shows this many providers at a time ("Vis flere" shows the
# next ones): small enough for a tablet and a quick page at any number of
# providers, large enough that most citizens never need the next page.
PAGE_SIZE = 8
# Providers the citizen ordered from for a day in this many days back come first.
RECENT_DAYS = 90
RECENT_PROVIDERS = 20
# The profile of a provider that has not set one (read only: building a table
# model per provider and request was a measurable part of the page).
DEFAULT_PROFILE = OrderingProfile(provider_id=0)


@dataclass(frozen=True)
class ProviderCard:
    """One provider on the catalogue page with its meals for the day. The price
    and the cut-off are the provider's, the same for every meal on the card."""

    provider: Provider
    approval: Approval
    unit_price_ore: int
    copayment_ore: int
    cutoff_at: datetime
    entries: list[CatalogueEntry]
    ordered_before: bool

    @property
    def municipality_pays_ore(self) -> int:
        return self.unit_price_ore - self.copayment_ore


@dataclass(frozen=True)
class CataloguePage:
    """A page of the catalogue: the providers ranked (the citizen's recent
    providers, then the nearest, then by name), grouped, ``per_page`` at a time."""

    citizen: Citizen
    grant: VoucherGrant | None
    delivery_on: date
    cards: list[ProviderCard]
    page: int = 1
    per_page: int = PAGE_SIZE
    total_providers: int = 0
    closed_at: datetime | None = None
    next_open_on: date | None = None
    paused: bool = False

    @property
    def entries(self) -> list[CatalogueEntry]:
        return [e for card in self.cards for e in card.entries]

    @property
    def shown_before(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def more(self) -> int:
        """How many providers come after this page."""
        return max(0, self.total_providers - self.shown_before - len(self.cards))


def catalogue_query(
    citizen: Citizen, grant: VoucherGrant | None, day: date, now: datetime
) -> providers.CatalogueQuery:
    """The values the catalogue's SQL filters on: the citizen's service area,
    the grant's diet form, the allergens of citizen and grant, and the cut-off
    as Copenhagen wall-clock values (the rule of ``cutoff_for``)."""
    local = now.astimezone(COPENHAGEN)
    allergies = set(citizen.allergies) | set(grant.allergies if grant else [])
    return providers.CatalogueQuery(
        municipality_id=citizen.municipality_id,
        postal_code=citizen.postal_code,
        on=day,
        diet_form=grant.diet_form.value if grant else "",
        forbidden=tuple(sorted(allergies)),
        today=local.date(),
        now_time=local.time().replace(tzinfo=None),
        default_open=cutoff_for(DEFAULT_PROFILE, day) > now,
    )


def _card(
    found: providers.ProviderOfferings,
    citizen: Citizen,
    grant: VoucherGrant,
    day: date,
    cutoff: datetime,
    favourites: list[int],
) -> ProviderCard:
    entries = []
    for offer in found.offers:
        # The SQL filtered already; the rule itself decides what is shown.
        try:
            fits(offer, citizen, grant, day)
        except InvalidInput:
            continue
        entries.append(
            CatalogueEntry(
                offer=offer,
                provider=found.provider,
                approval=found.approval,
                unit_price_ore=found.unit_price_ore,
                copayment_ore=grant.copayment_ore,
                cutoff_at=cutoff,
            )
        )
    return ProviderCard(
        provider=found.provider,
        approval=found.approval,
        unit_price_ore=found.unit_price_ore,
        copayment_ore=grant.copayment_ore,
        cutoff_at=cutoff,
        entries=entries,
        ordered_before=found.provider.id in favourites,
    )


async def catalogue_page(
    session: AsyncSession,
    *,
    actor: Actor,
    citizen_id: int | None,
    delivery_on: date,
    page: int = 1,
    per_page: int | None = PAGE_SIZE,
    offset: int | None = None,
    now: datetime | None = None,
) -> CataloguePage:
    """What this citizen may order for that day, one page of providers at a
    time: approved and active providers delivering to their postal code, offers
    fitting their diet and allergies, whose cut-off has not passed, with the
    full price split. Ranked and paged in SQL, so the work does not grow with
    the number of providers; ``per_page=None`` gives every provider at once.
    ``offset`` (the JSON API's) skips that many providers instead of pages."""
    now = now or utcnow()
    page = max(1, page)
    citizen, _ = await vouchers.citizen_for_ordering(session, actor=actor, citizen_id=citizen_id)
    assert citizen.id is not None
    grant = await vouchers.active_grant_on(session, citizen_id=citizen.id, day=delivery_on)
    if grant is None:
        return CataloguePage(citizen=citizen, grant=None, delivery_on=delivery_on, cards=[])
    query = catalogue_query(citizen, grant, delivery_on, now)
    favourites = await repository.recent_providers(
        session,
        citizen.id,
        since=today_of(now) - timedelta(days=RECENT_DAYS),
        limit=RECENT_PROVIDERS,
    )
    size = per_page or 0
    skip = (page - 1) * size if offset is None else max(0, offset)
    found, total = await providers.ranked_offerings(
        session, query, favourites=favourites, limit=per_page, offset=skip
    )
    if not found and total and per_page and offset is None:
        # Past the last page (an old link): show the last page.
        page = -(-total // per_page)
        found, total = await providers.ranked_offerings(
            session, query, favourites=favourites, limit=per_page, offset=(page - 1) * per_page
        )
    cards = []
    for offerings in found:
        cutoff = cutoff_for(offerings.profile or DEFAULT_PROFILE, delivery_on)
        if cutoff <= now:  # only in the hour a clock turns back (the SQL compares wall clocks)
            continue
        card = _card(offerings, citizen, grant, delivery_on, cutoff, favourites)
        if card.entries:
            cards.append(card)
    closed_at = next_open = None
    if not total:
        closed_at = await day_closed_at(session, citizen=citizen, day=delivery_on, now=now)
        if closed_at is not None:
            next_open = await first_open_day(session, citizen=citizen, after=delivery_on, now=now)
    return CataloguePage(
        citizen=citizen,
        grant=grant,
        delivery_on=delivery_on,
        cards=cards,
        page=page,
        per_page=per_page or max(1, total),
        total_providers=total,
        closed_at=closed_at,
        next_open_on=next_open,
        paused=await paused_on(session, citizen_id=citizen.id, day=delivery_on),
    )


async def catalogue(
    session: AsyncSession,
    *,
    actor: Actor,
    citizen_id: int | None,
    delivery_on: date,
    now: datetime | None = None,
) -> Catalogue:
    """Every meal this citizen may order for that day (the JSON API and the
    demo), by provider and meal name; the page uses ``catalogue_page``."""
    found = await catalogue_page(
        session,
        actor=actor,
        citizen_id=citizen_id,
        delivery_on=delivery_on,
        per_page=None,
        now=now,
    )
    entries = sorted(found.entries, key=lambda e: (e.provider.name, e.offer.name))
    return Catalogue(
        citizen=found.citizen,
        grant=found.grant,
        delivery_on=delivery_on,
        entries=entries,
        closed_at=found.closed_at,
        next_open_on=found.next_open_on,
        paused=found.paused,
    )


async def _cutoffs(
    session: AsyncSession, *, citizen: Citizen, day: date, now: datetime
) -> list[datetime]:
    """The cut-offs for ``day`` of the providers delivering to the citizen."""
    query = catalogue_query(citizen, None, day, now)
    return [
        cutoff_for(p or DEFAULT_PROFILE, day)
        for p in await providers.delivering_cutoffs(session, query)
    ]


async def day_closed_at(
    session: AsyncSession, *, citizen: Citizen, day: date, now: datetime
) -> datetime | None:
    """When ordering for ``day`` closed, where the cut-off has passed for every
    provider delivering to the citizen (the latest of them); else None."""
    cutoffs = await _cutoffs(session, citizen=citizen, day=day, now=now)
    if cutoffs and all(c <= now for c in cutoffs):
        return max(cutoffs)
    return None


async def first_open_day(
    session: AsyncSession, *, citizen: Citizen, after: date, now: datetime
) -> date | None:
    """The first day after ``after`` (within the ordering horizon) for which a
    provider delivering to the citizen still takes orders."""
    last = today_of(now) + timedelta(days=ORDER_DAYS_AHEAD)
    day = after + timedelta(days=1)
    while day <= last:
        if any(c > now for c in await _cutoffs(session, citizen=citizen, day=day, now=now)):
            return day
        day += timedelta(days=1)
    return None


@dataclass(frozen=True)
class HelpLine:
    """Whom a citizen calls: shown on every citizen page."""

    name: str
    phone: str | None
    hours: str | None


async def help_for_citizen(session: AsyncSession, *, citizen_id: int) -> HelpLine:
    citizen = await vouchers.get_citizen(session, citizen_id=citizen_id)
    return await help_line(session, municipality_id=citizen.municipality_id)


async def help_line(session: AsyncSession, *, municipality_id: int) -> HelpLine:
    municipality = await municipalities.get(session, municipality_id=municipality_id)
    return HelpLine(
        name=municipality.name, phone=municipality.contact_phone, hours=municipality.opening_hours
    )
