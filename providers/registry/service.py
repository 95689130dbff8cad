"""The provider register: a provider signs itself up, keeps its details
and payout account, sees its portal; municipal staff see the directory of
providers with an approval or application in their municipality."""

import re
from dataclasses import dataclass, field
from datetime import date
from typing import TypedDict

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.auth import service as auth_service
from market.auth.models import Role, User
from market.auth.permissions import Actor, Permission
from market.clock import today
from market.config import Settings
from market.errors import (
    N_,
    InvalidInput,
    PermissionDenied,
)
from market.municipalities.models import Municipality
from providers import repository as rows
from providers.applications import repository as applications_repository
from providers.approvals import repository as approvals_repository
from providers.approvals.service import (
    ApprovalView,
    approval_views,
)
from providers.common import (
    DEFAULT_SERVICE,
    check_cvr,
    municipality_of,
    provider_of,
    required,
)
from providers.exceptions import (
    CvrTaken,
    ProviderNotFound,
)
from providers.models import (
    Application,
    ApplicationStatus,
    PayoutMethod,
    Provider,
    QualityStandard,
)
from providers.registry import repository
from providers.schemas import (
    ProviderDetailsIn,
    ProviderRegistration,
)
from providers.standards import repository as standards_repository


class ProviderDetails(TypedDict):
    """A provider's details, cleaned; the keys are the columns of ``Provider``."""

    name: str
    address: str
    postal_code: str
    city: str
    contact_name: str
    contact_email: str
    contact_phone: str


def _clean_details(details: ProviderDetailsIn) -> ProviderDetails:
    postal_code = (details.postal_code or "").strip()
    if not re.fullmatch(r"[1-9]\d{3}", postal_code):
        raise InvalidInput(
            N_("{postal_code} is not a Danish postal code (4 digits)."),
            postal_code=postal_code or "''",
        )
    email = (details.contact_email or "").strip()
    if "@" not in email.strip("@"):
        raise InvalidInput(N_("{email} is not an e-mail address."), email=email or "''")
    return {
        "name": required(details.name, N_("Please fill in the business name."), 200),
        "address": required(details.address, N_("Please fill in the address."), 200),
        "postal_code": postal_code,
        "city": required(details.city, N_("Please fill in the city."), 80),
        "contact_name": required(
            details.contact_name, N_("Please fill in the contact person."), 200
        ),
        "contact_email": required(email, N_("Please fill in the contact e-mail."), 254).lower(),
        "contact_phone": required(
            details.contact_phone, N_("Please fill in the contact phone."), 32
        ),
    }


@dataclass
class Registration:
    provider: Provider
    admin: User
    session_token: str | None


async def register_provider(
    session: AsyncSession,
    *,
    actor: Actor | None,
    registration: ProviderRegistration,
    sign_in: Settings | None = None,
) -> Registration:
    """A provider signs itself up with its first administrator. With ``sign_in``
    (the settings) a session is opened for that administrator."""
    cvr = check_cvr(registration.cvr)
    details = _clean_details(registration)
    if await repository.get_provider_by_cvr(session, cvr) is not None:
        raise CvrTaken(cvr)
    provider = await rows.add(session, Provider(cvr=cvr, **details))
    assert provider.id is not None
    admin = await auth_service.create_user(
        session,
        actor=actor,
        email=registration.admin_email,
        full_name=registration.admin_full_name,
        password=registration.admin_password,
        role=Role.PROVIDER_ADMIN,
        provider_id=provider.id,
    )
    token = None
    if sign_in is not None:
        token = await auth_service.open_session(session, settings=sign_in, user=admin)
    await audit.record(
        session,
        actor=actor or auth_service.actor_for(admin),
        action="provider.registered",
        entity_type="provider",
        entity_id=provider.id,
        municipality_id=None,
        data={"cvr": cvr, "name": provider.name, "admin_user_id": admin.id},
    )
    return Registration(provider=provider, admin=admin, session_token=token)


async def own_provider(session: AsyncSession, *, actor: Actor) -> Provider:
    provider = await repository.get_provider(session, provider_of(actor))
    if provider is None:
        raise ProviderNotFound()
    return provider


async def update_provider(
    session: AsyncSession, *, actor: Actor, details: ProviderDetailsIn
) -> Provider:
    provider = await own_provider(session, actor=actor)
    cleaned = _clean_details(details)
    changed = {k: v for k, v in cleaned.items() if getattr(provider, k) != v}
    for key, value in cleaned.items():
        setattr(provider, key, value)
    await rows.save(session, provider)
    assert provider.id is not None
    await audit.record(
        session,
        actor=actor,
        action="provider.updated",
        entity_type="provider",
        entity_id=provider.id,
        municipality_id=None,
        data={"changed": sorted(changed)},
    )
    return provider


async def set_payout_details(
    session: AsyncSession,
    *,
    actor: Actor,
    method: PayoutMethod,
    iban: str | None,
    bic: str | None,
    stripe_account_id: str | None,
) -> Provider:
    """Where the provider's settlements are paid. The caller (market.payouts)
    has checked the IBAN, BIC and Stripe account; the provider's admin decides."""
    if not actor.can(Permission.PROVIDER_PROFILE_EDIT):
        raise PermissionDenied(N_("Only a provider's administrator can change the payout details."))
    provider = await own_provider(session, actor=actor)
    provider.payout_method = method
    provider.payout_iban = iban
    provider.payout_bic = bic
    provider.stripe_account_id = stripe_account_id
    await rows.save(session, provider)
    assert provider.id is not None
    await audit.record(
        session,
        actor=actor,
        action="provider.payout_details_set",
        entity_type="provider",
        entity_id=provider.id,
        municipality_id=None,
        data={
            "method": method,
            "iban_last4": iban[-4:] if iban else None,
            "bic": bic,
            "stripe_account_id": stripe_account_id,
        },
    )
    return provider


@dataclass
class MunicipalityOffer:
    """A municipality a provider may apply to, with its current standard."""

    municipality: Municipality
    standard: QualityStandard | None
    open_application: Application | None


@dataclass
class PortalView:
    provider: Provider
    municipalities: list[MunicipalityOffer]
    applications: list[tuple[Application, str]]
    approvals: list[ApprovalView]
    today: date


async def portal(session: AsyncSession, *, actor: Actor) -> PortalView:
    provider = await own_provider(session, actor=actor)
    assert provider.id is not None
    published = {
        s.municipality_id: s
        for s in await standards_repository.published_standards(session)
        if s.service == DEFAULT_SERVICE
    }
    applications = list(
        await applications_repository.applications_of_provider(session, provider.id)
    )
    names = await repository.municipality_names(session)
    open_by_municipality = {
        a.municipality_id: a
        for a in applications
        if a.status in (ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED)
    }
    offers = [
        MunicipalityOffer(
            municipality=m,
            standard=published.get(m.id or 0),
            open_application=open_by_municipality.get(m.id or 0),
        )
        for m in await repository.list_municipalities(session)
    ]
    on = today()
    approvals = await approval_views(
        session, await approvals_repository.approvals_of_provider(session, provider.id), on
    )
    return PortalView(
        provider=provider,
        municipalities=offers,
        applications=[(a, names.get(a.municipality_id, "")) for a in applications],
        approvals=approvals,
        today=on,
    )


@dataclass
class DirectoryRow:
    provider: Provider
    approvals: list[ApprovalView]
    applications: list[Application] = field(default_factory=list)


async def provider_directory(session: AsyncSession, *, actor: Actor) -> list[DirectoryRow]:
    """Providers with an approval or application in the actor's municipality."""
    municipality_id = municipality_of(actor)
    providers = await repository.providers_in_municipality(session, municipality_id)
    views = await approval_views(
        session,
        await approvals_repository.approvals_in_municipality(session, municipality_id),
        today(),
    )
    applications = await applications_repository.applications_in_municipality(
        session, municipality_id
    )
    rows = []
    for provider in providers:
        rows.append(
            DirectoryRow(
                provider=provider,
                approvals=[v for v in views if v.approval.provider_id == provider.id],
                applications=[
                    a
                    for a in applications
                    if a.provider_id == provider.id and a.status != ApplicationStatus.DRAFT
                ],
            )
        )
    return rows


async def provider_detail(session: AsyncSession, *, actor: Actor, provider_id: int) -> DirectoryRow:
    municipality_id = municipality_of(actor)
    if not await repository.provider_in_municipality(session, provider_id, municipality_id):
        raise ProviderNotFound()
    provider = await repository.get_provider(session, provider_id)
    if provider is None:
        raise ProviderNotFound()
    views = await approval_views(
        session,
        await approvals_repository.approvals_of_provider(session, provider_id, municipality_id),
        today(),
    )
    applications = [
        a
        for a in await applications_repository.applications_of_provider(session, provider_id)
        if a.municipality_id == municipality_id and a.status != ApplicationStatus.DRAFT
    ]
    return DirectoryRow(provider=provider, approvals=views, applications=applications)
