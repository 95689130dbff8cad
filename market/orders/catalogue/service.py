"""The catalogue: what a citizen may order for a day, and whom they call for help."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.permissions import Actor
from market.db import utcnow
from market.errors import InvalidInput
from market.municipalities import service as municipalities
from market.orders.exceptions import ContainsAllergen, NotOfferedThatDay, WrongDietForm
from market.orders.moves.service import ORDER_DAYS_AHEAD, cutoff_for, paused_on, today_of
from providers import service as providers
from providers.models import Approval, Offer, Provider
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


async def catalogue(
    session: AsyncSession,
    *,
    actor: Actor,
    citizen_id: int | None,
    delivery_on: date,
    now: datetime | None = None,
) -> Catalogue:
    """What this citizen may order for that day: approved and active providers
    delivering to their postal code, offers fitting their diet and allergies,
    whose cut-off has not passed, with the full price split."""
    now = now or utcnow()
    citizen, _ = await vouchers.citizen_for_ordering(session, actor=actor, citizen_id=citizen_id)
    assert citizen.id is not None
    grant = await vouchers.active_grant_on(session, citizen_id=citizen.id, day=delivery_on)
    entries: list[CatalogueEntry] = []
    if grant is None:
        return Catalogue(citizen=citizen, grant=None, delivery_on=delivery_on, entries=[])
    missed: list[datetime] = []
    for offering in await providers.offerings_for(
        session,
        municipality_id=citizen.municipality_id,
        postal_code=citizen.postal_code,
        on=delivery_on,
    ):
        cutoff = cutoff_for(offering.profile, delivery_on)
        if cutoff <= now:
            missed.append(cutoff)
            continue
        try:
            fits(offering.offer, citizen, grant, delivery_on)
        except InvalidInput:
            continue
        entries.append(
            CatalogueEntry(
                offer=offering.offer,
                provider=offering.provider,
                approval=offering.approval,
                unit_price_ore=offering.unit_price_ore,
                copayment_ore=grant.copayment_ore,
                cutoff_at=cutoff,
            )
        )
    entries.sort(key=lambda e: (e.provider.name, e.offer.name))
    closed_at = next_open = None
    if not entries and missed:
        closed_at = max(missed)
        next_open = await first_open_day(session, citizen=citizen, after=delivery_on, now=now)
    return Catalogue(
        citizen=citizen,
        grant=grant,
        delivery_on=delivery_on,
        entries=entries,
        closed_at=closed_at,
        next_open_on=next_open,
        paused=await paused_on(session, citizen_id=citizen.id, day=delivery_on),
    )


async def first_open_day(
    session: AsyncSession, *, citizen: Citizen, after: date, now: datetime
) -> date | None:
    """The first day after ``after`` (within the ordering horizon) for which a
    provider delivering to the citizen still takes orders."""
    last = today_of(now) + timedelta(days=ORDER_DAYS_AHEAD)
    day = after + timedelta(days=1)
    while day <= last:
        for offering in await providers.offerings_for(
            session,
            municipality_id=citizen.municipality_id,
            postal_code=citizen.postal_code,
            on=day,
        ):
            if cutoff_for(offering.profile, day) > now:
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
