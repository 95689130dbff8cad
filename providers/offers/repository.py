"""Queries of offers and ordering profiles."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from sqlalchemy import Select, String, case, cast, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from providers.models import (
    Approval,
    ApprovalPostalCode,
    ApprovalStatus,
    ContractTermsVersion,
    Offer,
    OrderingProfile,
    Provider,
)


@dataclass(frozen=True)
class OfferingRow:
    """What one offer needs to be sold in a municipality, read in one statement."""

    offer: Offer
    approval: Approval
    provider: Provider
    profile: OrderingProfile | None
    unit_price_ore: int | None
    postal_codes: list[str]


async def offering_row(
    session: AsyncSession, offer_id: int, municipality_id: int, on: date
) -> OfferingRow | None:
    """The offer with its standing approval in the municipality (not yet revoked
    or replaced), its provider, ordering profile, the price of the terms in force
    on ``on`` (the latest start on or before it) and the approval's postal codes:
    one round trip. None when there is no such offer, approval or provider."""
    terms = _price_in_force(on)
    codes = (
        select(func.aggregate_strings(col(ApprovalPostalCode.postal_code), ","))
        .where(col(ApprovalPostalCode.approval_id) == col(Approval.id))
        .correlate(Approval)
        .scalar_subquery()
    )
    result = await session.execute(
        select(Offer, Approval, Provider, OrderingProfile, terms, codes)
        .join(
            Approval,
            (col(Approval.provider_id) == col(Offer.provider_id))
            & (col(Approval.municipality_id) == municipality_id)
            & (col(Approval.service) == col(Offer.service))
            & col(Approval.status).in_([ApprovalStatus.ACTIVE, ApprovalStatus.SUSPENDED]),
        )
        .join(Provider, col(Provider.id) == col(Offer.provider_id))
        .outerjoin(OrderingProfile, col(OrderingProfile.provider_id) == col(Offer.provider_id))
        .where(col(Offer.id) == offer_id)
        .limit(1)
    )
    row = result.first()
    if row is None:
        return None
    offer, approval, provider, profile, price, joined = row
    return OfferingRow(
        offer=offer,
        approval=approval,
        provider=provider,
        profile=profile,
        unit_price_ore=price,
        postal_codes=sorted(joined.split(",")) if joined else [],
    )


async def get_offer(session: AsyncSession, offer_id: int) -> Offer | None:
    return await session.get(Offer, offer_id)


async def offers_of_provider(session: AsyncSession, provider_id: int) -> Sequence[Offer]:
    result = await session.execute(
        select(Offer).where(col(Offer.provider_id) == provider_id).order_by(col(Offer.name))
    )
    return result.scalars().all()


async def active_offers_of(session: AsyncSession, provider_ids: list[int]) -> Sequence[Offer]:
    if not provider_ids:
        return []
    result = await session.execute(
        select(Offer)
        .where(col(Offer.provider_id).in_(provider_ids), col(Offer.active).is_(True))
        .order_by(col(Offer.provider_id), col(Offer.name))
    )
    return result.scalars().all()


async def ordering_profile(session: AsyncSession, provider_id: int) -> OrderingProfile | None:
    return await session.get(OrderingProfile, provider_id)


async def ordering_profiles(
    session: AsyncSession, provider_ids: list[int]
) -> dict[int, OrderingProfile]:
    if not provider_ids:
        return {}
    result = await session.execute(
        select(OrderingProfile).where(col(OrderingProfile.provider_id).in_(provider_ids))
    )
    return {p.provider_id: p for p in result.scalars().all()}


# --- the citizen's catalogue, ranked and paged in SQL ---------------------------------
# The catalogue page shows a few providers at a time, so the filtering a citizen
# needs (service area, weekday, diet form, allergens, cut-off) and the ranking
# run in the database: the server's work per page no longer grows with the
# number of providers delivering to the citizen.


@dataclass(frozen=True)
class CatalogueQuery:
    """What one citizen may order for one day, as the query needs it. The rules
    (which allergens, when a cut-off has passed) are the service's; this is
    only their values."""

    municipality_id: int
    postal_code: str
    on: date
    diet_form: str
    forbidden: tuple[str, ...]
    # The cut-off as Copenhagen wall-clock values: an order for ``on`` is still
    # taken where on - cutoff_days_before > today, or equals today and the
    # cutoff time is later than now_time. Providers without a profile use the
    # default profile, whose answer the service passes as ``default_open``.
    today: date
    now_time: time
    default_open: bool


@dataclass(frozen=True)
class CatalogueProvider:
    """One provider card: the approval it sells under, its profile and price."""

    provider: Provider
    approval: Approval
    profile: OrderingProfile | None
    unit_price_ore: int


def _price_in_force(on: date) -> Any:
    """The unit price of the terms in force on ``on`` for the outer Approval row
    (the latest start on or before it)."""
    return (
        select(col(ContractTermsVersion.unit_price_ore))
        .where(
            col(ContractTermsVersion.approval_id) == col(Approval.id),
            col(ContractTermsVersion.valid_from) <= on,
        )
        .order_by(
            col(ContractTermsVersion.valid_from).desc(), col(ContractTermsVersion.version).desc()
        )
        .limit(1)
        .correlate(Approval)
        .scalar_subquery()
    )


def _offer_fits(q: CatalogueQuery) -> list[Any]:
    """An active offer of the outer approval's provider and service, offered on
    the weekday, made in the diet form and free of the forbidden allergens.
    The JSON lists are matched on their text (a quoted enum value, escaped for
    LIKE), which is the same on SQLite and PostgreSQL; the service checks every
    offer it shows again in Python."""
    weekday = str(q.on.isoweekday())
    conditions: list[Any] = [
        col(Offer.provider_id) == col(Approval.provider_id),
        col(Offer.service) == col(Approval.service),
        col(Offer.active).is_(True),
        (literal(",") + col(Offer.weekdays) + literal(",")).contains(
            f",{weekday},", autoescape=True
        ),
        cast(col(Offer.diet_forms), String).contains(f'"{q.diet_form}"', autoescape=True),
    ]
    conditions += [
        ~cast(col(Offer.allergens), String).contains(f'"{a}"', autoescape=True) for a in q.forbidden
    ]
    return conditions


def _still_open(q: CatalogueQuery) -> Any:
    gap = (q.on - q.today).days
    days_before = col(OrderingProfile.cutoff_days_before)
    with_profile = col(OrderingProfile.provider_id).is_not(None) & (
        (days_before < gap)
        | ((days_before == gap) & (col(OrderingProfile.cutoff_time) > q.now_time))
    )
    if q.default_open:
        return with_profile | col(OrderingProfile.provider_id).is_(None)
    return with_profile


def _delivering(q: CatalogueQuery, *, require_offer: bool = True, open_only: bool = True) -> Any:
    """Standing approvals in the municipality on the day whose service area has
    the postal code and whose terms are in force, joined with the provider and
    its ordering profile."""
    conditions: list[Any] = [
        col(Approval.municipality_id) == q.municipality_id,
        col(Approval.status) == ApprovalStatus.ACTIVE,
        col(Approval.valid_from) <= q.on,
        col(Approval.valid_to) >= q.on,
        exists().where(
            col(ApprovalPostalCode.approval_id) == col(Approval.id),
            col(ApprovalPostalCode.postal_code) == q.postal_code,
        ),
        exists().where(
            col(ContractTermsVersion.approval_id) == col(Approval.id),
            col(ContractTermsVersion.valid_from) <= q.on,
        ),
    ]
    if require_offer:
        conditions.append(exists().where(*_offer_fits(q)))
    if open_only:
        conditions.append(_still_open(q))
    return conditions


def _ranking(favourites: list[int], near: str) -> list[Any]:
    """Favourites first (in the order given), then by how near the provider's
    own postal code is to ``near`` (the same code, then the same first two
    digits, then the same first digit: Danish codes are grouped by area), then
    by name; the id keeps the order stable between pages."""
    order: list[Any] = []
    if favourites:
        order.append(
            case(
                {pid: n for n, pid in enumerate(favourites)},
                value=col(Provider.id),
                else_=len(favourites),
            )
        )
    order.append(
        case(
            (col(Provider.postal_code) == near, 0),
            (func.substr(col(Provider.postal_code), 1, 2) == near[:2], 1),
            (func.substr(col(Provider.postal_code), 1, 1) == near[:1], 2),
            else_=3,
        )
    )
    order += [col(Provider.name), col(Provider.id)]
    return order


async def catalogue_providers(
    session: AsyncSession,
    q: CatalogueQuery,
    *,
    favourites: list[int],
    limit: int | None,
    offset: int = 0,
) -> tuple[list[CatalogueProvider], int]:
    """One page of the providers that have something for the citizen on the day,
    ranked, and how many there are in all: one round trip (the total is a
    window count, computed before LIMIT). Past the last page the total is
    counted on its own."""
    # Ranked on narrow rows (ids and sort keys), then only the page's rows are
    # read in full: the sort and the window count no longer carry every
    # candidate provider's whole row.
    ranked: Select[Any, int] = (
        select(col(Approval.id).label("approval_id"), func.count().over().label("total"))
        .select_from(Approval)
        .join(Provider, col(Provider.id) == col(Approval.provider_id))
        .outerjoin(OrderingProfile, col(OrderingProfile.provider_id) == col(Approval.provider_id))
        .where(*_delivering(q))
        .order_by(*_ranking(favourites, q.postal_code))
        .offset(offset)
    )
    if limit is not None:
        ranked = ranked.limit(limit)
    page = ranked.subquery("page")
    query = (
        select(Provider, Approval, OrderingProfile, _price_in_force(q.on), page.c.total)
        .select_from(page)
        .join(Approval, col(Approval.id) == page.c.approval_id)
        .join(Provider, col(Provider.id) == col(Approval.provider_id))
        .outerjoin(OrderingProfile, col(OrderingProfile.provider_id) == col(Approval.provider_id))
        .order_by(*_ranking(favourites, q.postal_code))
    )
    rows = (await session.execute(query)).all()
    found = [
        CatalogueProvider(provider=p, approval=a, profile=profile, unit_price_ore=price)
        for p, a, profile, price, _ in rows
    ]
    if rows:
        return found, rows[0][4]
    if offset == 0:
        return [], 0
    counted = await session.execute(
        select(func.count())
        .select_from(Approval)
        .outerjoin(OrderingProfile, col(OrderingProfile.provider_id) == col(Approval.provider_id))
        .where(*_delivering(q))
    )
    return [], counted.scalar_one()


async def catalogue_offers(
    session: AsyncSession, q: CatalogueQuery, approval_ids: list[int]
) -> Sequence[Offer]:
    """The fitting offers of the given approvals' providers, by name."""
    if not approval_ids:
        return []
    result = await session.execute(
        select(Offer)
        .join(Approval, col(Approval.id).in_(approval_ids))
        .where(*_offer_fits(q))
        .order_by(col(Offer.name), col(Offer.id))
    )
    return result.scalars().all()


async def catalogue_cutoffs(
    session: AsyncSession, q: CatalogueQuery
) -> list[tuple[int | None, time | None]]:
    """The distinct cut-offs (days before, time; None without a profile) of the
    providers delivering to the postal code with an active offer, whatever it
    fits: for saying when the day closed and which day is open next."""
    result = await session.execute(
        select(col(OrderingProfile.cutoff_days_before), col(OrderingProfile.cutoff_time))
        .select_from(Approval)
        .outerjoin(OrderingProfile, col(OrderingProfile.provider_id) == col(Approval.provider_id))
        .where(
            *_delivering(q, require_offer=False, open_only=False),
            exists().where(
                col(Offer.provider_id) == col(Approval.provider_id),
                col(Offer.service) == col(Approval.service),
                col(Offer.active).is_(True),
            ),
        )
        .distinct()
    )
    return [(days, at) for days, at in result.all()]
