"""Offers (a provider's menu), the offerings a citizen may order, and how a
provider takes orders: its ordering profile, webhook address and secret."""

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import NotRequired, TypedDict

from sqlalchemy.ext.asyncio import AsyncSession

from market import images
from market.audit import service as audit
from market.auth.permissions import Actor, Permission
from market.config import Settings, get_settings
from market.db import utcnow
from market.dietary import Allergen, DietForm
from market.errors import (
    N_,
    Conflict,
    InvalidInput,
    PermissionDenied,
)
from market.outbox import delivery, guard
from providers import repository as rows
from providers.approvals import repository as approvals_repository
from providers.approvals.service import (
    is_active,
)
from providers.common import (
    PendingFile,
    provider_of,
    required,
    store_files,
)
from providers.exceptions import (
    OfferNotFound,
)
from providers.models import (
    Approval,
    Offer,
    OrderingProfile,
    Provider,
)
from providers.offers import repository
from providers.registry import repository as registry_repository

OFFER_PHOTO_DIR = "offer-photos"


@dataclass(frozen=True)
class Offering:
    """An offer as a citizen of one municipality may order it: with the approval
    it is sold under, the provider's ordering profile and the contract price."""

    offer: Offer
    provider: Provider
    approval: Approval
    profile: OrderingProfile
    postal_codes: list[str]
    unit_price_ore: int


async def offerings_for(
    session: AsyncSession, *, municipality_id: int, postal_code: str, on: date
) -> list[Offering]:
    """Offers of providers approved and active in the municipality on that day
    and delivering to the postal code (set-based: a handful of queries)."""
    approvals = [
        a
        for a in await approvals_repository.active_approvals(session, municipality_id, on)
        if is_active(a, on)
    ]
    ids = [a.id for a in approvals if a.id is not None]
    codes = await approvals_repository.postal_codes_of(session, ids)
    approvals = [a for a in approvals if postal_code in codes.get(a.id or 0, [])]
    terms = await approvals_repository.latest_terms_of(
        session, [a.id for a in approvals if a.id], on
    )
    by_provider = {a.provider_id: a for a in approvals if a.id in terms}
    provider_ids = list(by_provider)
    providers = await registry_repository.providers_by_ids(session, provider_ids)
    profiles = await repository.ordering_profiles(session, provider_ids)
    offerings = []
    for offer in await repository.active_offers_of(session, provider_ids):
        approval = by_provider[offer.provider_id]
        if offer.service != approval.service:
            continue
        assert approval.id is not None
        offerings.append(
            Offering(
                offer=offer,
                provider=providers[offer.provider_id],
                approval=approval,
                profile=profiles.get(offer.provider_id)
                or OrderingProfile(provider_id=offer.provider_id),
                postal_codes=codes.get(approval.id, []),
                unit_price_ore=terms[approval.id].unit_price_ore,
            )
        )
    return offerings


@dataclass(frozen=True)
class ProviderOfferings:
    """One provider as the citizen's catalogue shows it: the approval it sells
    under, its ordering profile, the contract price and its fitting offers."""

    provider: Provider
    approval: Approval
    profile: OrderingProfile | None  # None: the default profile
    unit_price_ore: int
    offers: list[Offer]


async def ranked_offerings(
    session: AsyncSession,
    query: repository.CatalogueQuery,
    *,
    favourites: list[int],
    limit: int | None,
    offset: int = 0,
) -> tuple[list[ProviderOfferings], int]:
    """A page of the providers with something for the citizen on the day (see
    ``CatalogueQuery``), favourites first, then the nearest, then by name, each
    with its fitting offers; and how many providers there are in all. Two
    round trips, whatever the number of providers."""
    page, total = await repository.catalogue_providers(
        session, query, favourites=favourites, limit=limit, offset=offset
    )
    approval_ids = [p.approval.id for p in page if p.approval.id is not None]
    offers: dict[int, list[Offer]] = {}
    for offer in await repository.catalogue_offers(session, query, approval_ids):
        offers.setdefault(offer.provider_id, []).append(offer)
    return [
        ProviderOfferings(
            provider=p.provider,
            approval=p.approval,
            profile=p.profile,
            unit_price_ore=p.unit_price_ore,
            offers=[
                o for o in offers.get(p.approval.provider_id, []) if o.service == p.approval.service
            ],
        )
        for p in page
    ], total


async def delivering_cutoffs(
    session: AsyncSession, query: repository.CatalogueQuery
) -> list[OrderingProfile | None]:
    """The distinct cut-offs (as profiles; None for the default profile) of the
    providers delivering to the citizen with an active offer, whatever it fits."""
    return [
        OrderingProfile(provider_id=0, cutoff_days_before=days, cutoff_time=at)
        if days is not None and at is not None
        else None
        for days, at in await repository.catalogue_cutoffs(session, query)
    ]


async def offering(
    session: AsyncSession, *, offer_id: int, municipality_id: int, on: date
) -> Offering | None:
    """One offer as sold in the municipality, or None where it is not sold there
    (read in one statement: the order path's look-up)."""
    row = await repository.offering_row(session, offer_id, municipality_id, on)
    if row is None or not row.offer.active or row.unit_price_ore is None:
        return None
    return Offering(
        offer=row.offer,
        provider=row.provider,
        approval=row.approval,
        profile=row.profile or OrderingProfile(provider_id=row.offer.provider_id),
        postal_codes=row.postal_codes,
        unit_price_ore=row.unit_price_ore,
    )


class OfferFields(TypedDict):
    """An offer as cleaned from the form; the keys are columns of ``Offer``."""

    name: str
    description: str
    diet_forms: list[str]
    allergens: list[str]
    weekdays: str
    daily_capacity: int | None
    active: NotRequired[bool]
    photo_storage_name: NotRequired[str]
    thumbnail_storage_name: NotRequired[str]


def _offer_fields(
    name: str,
    description: str,
    diet_forms: Sequence[str],
    allergens: Sequence[str],
    weekdays: Sequence[int],
    daily_capacity: int | None,
) -> OfferFields:
    name = required(name, N_("Please give the meal a name."), 120)
    forms = sorted({DietForm(f).value for f in diet_forms if f} if diet_forms else set())
    if not forms:
        raise InvalidInput(N_("Say which diet forms the meal is made in."))
    days = sorted({int(d) for d in weekdays})
    if not days or any(d < 1 or d > 7 for d in days):
        raise InvalidInput(N_("Choose the weekdays the meal is offered."))
    if daily_capacity is not None and daily_capacity < 1:
        raise InvalidInput(N_("A daily capacity must be at least 1 meal."))
    return {
        "name": name,
        "description": description.strip()[:4000],
        "diet_forms": forms,
        "allergens": sorted({Allergen(a).value for a in allergens if a}),
        "weekdays": ",".join(str(d) for d in days),
        "daily_capacity": daily_capacity,
    }


def _photo_files(settings: Settings, photo: images.Photo) -> list[PendingFile]:
    folder = Path(settings.upload_dir) / OFFER_PHOTO_DIR
    return [
        PendingFile(path=folder / f"{secrets.token_urlsafe(24)}.webp", data=data)
        for data in (photo.full, photo.thumbnail)
    ]


def _remove_photo_files(settings: Settings, names: Sequence[str | None]) -> None:
    folder = Path(settings.upload_dir) / OFFER_PHOTO_DIR
    for name in names:
        if name:
            (folder / name).unlink(missing_ok=True)


async def save_offer(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    offer_id: int | None,
    name: str,
    description: str,
    diet_forms: Sequence[str],
    allergens: Sequence[str],
    weekdays: Sequence[int],
    daily_capacity: int | None,
    active: bool = True,
    photo: bytes | None = None,
) -> Offer:
    """Creates or changes an offer of the actor's own provider."""
    provider_id = provider_of(actor)
    if not actor.can(Permission.OFFER_MANAGE):
        raise PermissionDenied(N_("Only a provider's administrator can change the menu."))
    try:
        values = _offer_fields(name, description, diet_forms, allergens, weekdays, daily_capacity)
    except ValueError as exc:
        raise InvalidInput(N_("Choose diet forms and allergens from the lists.")) from exc
    files: list[PendingFile] = []
    if photo:
        # Decoding and re-encoding a camera photo takes seconds of CPU: not on the loop.
        processed = await asyncio.to_thread(
            images.process_photo, photo, max_bytes=settings.max_upload_bytes
        )
        files = _photo_files(settings, processed)
        values["photo_storage_name"], values["thumbnail_storage_name"] = (
            f.path.name for f in files
        )
    values["active"] = active
    replaced: list[str | None] = []
    if offer_id is None:
        offer = await rows.add(session, Offer(provider_id=provider_id, **values))
        action = "offer.created"
    else:
        found = await repository.get_offer(session, offer_id)
        if found is None or found.provider_id != provider_id:
            raise OfferNotFound()
        if files:
            replaced = [found.photo_storage_name, found.thumbnail_storage_name]
        for key, value in values.items():
            setattr(found, key, value)
        await rows.save(session, found)
        offer, action = found, "offer.changed"
    # Files only after every check and database write; the replaced photo's
    # files go once the new ones are in place.
    await store_files(files)
    await asyncio.to_thread(_remove_photo_files, settings, replaced)
    await audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="offer",
        entity_id=offer.id or 0,
        municipality_id=None,
        data={k: v for k, v in values.items() if not k.endswith("storage_name")},
    )
    return offer


async def offers_of_own_provider(session: AsyncSession, *, actor: Actor) -> list[Offer]:
    return list(await repository.offers_of_provider(session, provider_of(actor)))


async def own_offer(session: AsyncSession, *, actor: Actor, offer_id: int) -> Offer:
    """One meal of the actor's own menu; another provider's meal does not exist here."""
    offer = await repository.get_offer(session, offer_id)
    if offer is None or offer.provider_id != provider_of(actor):
        raise OfferNotFound()
    return offer


async def get_offer_photo(
    session: AsyncSession, *, settings: Settings, offer_id: int, thumbnail: bool
) -> Path:
    """Menu photos are shown to anyone signed in: they are the provider's advertising."""
    offer = await repository.get_offer(session, offer_id)
    name = (
        None
        if offer is None
        else (offer.thumbnail_storage_name if thumbnail else offer.photo_storage_name)
    )
    if name is None:
        raise OfferNotFound()
    return Path(settings.upload_dir) / OFFER_PHOTO_DIR / name


WEBHOOK_ADDRESS_REFUSED = {
    "scheme": N_("The webhook address must start with https://."),
    "form": N_("The webhook address is not a valid web address (https://host/path)."),
    "private": N_(
        "The webhook address must be on the public internet: local, private and "
        "reserved network addresses are refused."
    ),
}


async def _check_webhook_url(url: str, settings: Settings) -> None:
    """Nothing calls an address a user typed without checking where it goes."""
    try:
        await guard.check_for_saving(
            url,
            allow_private=delivery.webhook_may_use_private_addresses(settings),
            allow_http=delivery.webhook_may_use_http(settings),
        )
    except guard.UnsafeAddress as exc:
        raise InvalidInput(WEBHOOK_ADDRESS_REFUSED[exc.reason]) from exc


async def own_ordering_profile(session: AsyncSession, *, actor: Actor) -> OrderingProfile:
    provider_id = provider_of(actor)
    profile = await repository.ordering_profile(session, provider_id)
    return profile or OrderingProfile(provider_id=provider_id)


async def save_ordering_profile(
    session: AsyncSession,
    *,
    actor: Actor,
    cutoff_days_before: int,
    cutoff_time: time,
    window_start: time,
    window_end: time,
    accept_within_hours: int,
    auto_accept: bool,
    webhook_url: str | None,
    settings: Settings | None = None,
) -> OrderingProfile:
    provider_id = provider_of(actor)
    if not actor.can(Permission.PROVIDER_PROFILE_EDIT):
        raise PermissionDenied(
            N_("Only a provider's administrator can change how orders are taken.")
        )
    if not 0 <= cutoff_days_before <= 7:
        raise InvalidInput(N_("The cut-off must be 0 to 7 days before delivery."))
    if window_end <= window_start:
        raise InvalidInput(N_("The delivery window must end after it starts."))
    if not 1 <= accept_within_hours <= 72:
        raise InvalidInput(N_("Orders must be accepted within 1 to 72 hours."))
    url = (webhook_url or "").strip() or None
    if url is not None:
        await _check_webhook_url(url, settings or get_settings())
    profile = await repository.ordering_profile(session, provider_id)
    if profile is None:
        profile = OrderingProfile(provider_id=provider_id)
    secret = profile.webhook_secret or (secrets.token_urlsafe(32) if url else None)
    for key, value in {
        "cutoff_days_before": cutoff_days_before,
        "cutoff_time": cutoff_time,
        "window_start": window_start,
        "window_end": window_end,
        "accept_within_hours": accept_within_hours,
        "auto_accept": auto_accept,
        "webhook_url": url,
        "webhook_secret": secret,
    }.items():
        setattr(profile, key, value)
    await rows.add(session, profile)
    await audit.record(
        session,
        actor=actor,
        action="ordering_profile.changed",
        entity_type="provider",
        entity_id=provider_id,
        municipality_id=None,
        data={
            "cutoff_days_before": cutoff_days_before,
            "cutoff_time": cutoff_time.isoformat(),
            "window": f"{window_start.isoformat()}-{window_end.isoformat()}",
            "accept_within_hours": accept_within_hours,
            "auto_accept": auto_accept,
            "webhook_url": url,
        },
    )
    return profile


async def rotate_webhook_secret(
    session: AsyncSession, *, actor: Actor, settings: Settings, now: datetime | None = None
) -> OrderingProfile:
    """A new signing secret. The old one keeps signing alongside it for the grace
    period, so the kitchen system can switch without refusing a message; a
    rotation during a grace period drops the oldest secret at once."""
    provider_id = provider_of(actor)
    if not actor.can(Permission.PROVIDER_PROFILE_EDIT):
        raise PermissionDenied(N_("Only a provider's administrator can change the webhook secret."))
    profile = await repository.ordering_profile(session, provider_id)
    if profile is None or not profile.webhook_url or not profile.webhook_secret:
        raise Conflict(N_("There is no webhook address yet, so there is no secret to change."))
    now = now or utcnow()
    until = now + timedelta(hours=settings.webhook_secret_grace_hours)
    profile.webhook_previous_secret = profile.webhook_secret
    profile.webhook_previous_secret_until = until
    profile.webhook_secret = secrets.token_urlsafe(32)
    await rows.add(session, profile)
    await audit.record(
        session,
        actor=actor,
        action="ordering_profile.webhook_secret_rotated",
        entity_type="provider",
        entity_id=provider_id,
        municipality_id=None,
        data={"previous_signs_until": until.isoformat()},  # never the secrets themselves
    )
    return profile


async def offers_and_providers(
    session: AsyncSession, *, offer_ids: list[int]
) -> tuple[dict[int, Offer], dict[int, Provider]]:
    """Offers by id and their providers, for listing a citizen's orders by name."""
    offers: dict[int, Offer] = {}
    for offer_id in sorted(set(offer_ids)):
        offer = await repository.get_offer(session, offer_id)
        if offer is not None:
            offers[offer_id] = offer
    providers = await registry_repository.providers_by_ids(
        session, sorted({o.provider_id for o in offers.values()})
    )
    return offers, providers


async def ordering_profile_of(session: AsyncSession, *, provider_id: int) -> OrderingProfile | None:
    """The profile (webhook address and secret) of the provider an order is for."""
    return await repository.ordering_profile(session, provider_id)
