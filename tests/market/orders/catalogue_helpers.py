"""Many providers quickly, as rows (approved, terms in force, a service area,
offers): for the catalogue's paging tests here and in the browser."""

from datetime import time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from market.clock import today as today_in_copenhagen
from providers.models import (
    Application,
    ApplicationStatus,
    Approval,
    ApprovalPostalCode,
    ContractTermsVersion,
    Offer,
    OrderingProfile,
    Provider,
)

FITS = (("Dagens ret", ["normal", "soft"], []),)
_CVR = iter(range(20_000_000, 20_100_000))


async def add_kitchen(
    session: AsyncSession,
    *,
    municipality_id: int,
    standard_id: int,
    admin_id: int,
    name: str,
    postal_code: str = "8000",
    delivers_to: tuple[str, ...] = ("8200",),
    offers: tuple[tuple[str, list[str], list[str]], ...] = FITS,
    weekdays: str = "1,2,3,4,5,6,7",
    cutoff_days_before: int | None = None,
) -> Provider:
    """A provider approved in Aarhus (active, with terms in force) delivering to
    ``delivers_to``, with ``offers`` as (name, diet forms, allergens)."""
    admin = admin_id
    today = today_in_copenhagen()
    provider = Provider(
        name=name,
        cvr=f"{next(_CVR):08d}",
        address="Vej 1",
        postal_code=postal_code,
        city="By",
        contact_name="K",
        contact_email="k@example.dk",
        contact_phone="+4511223344",
    )
    session.add(provider)
    await session.flush()
    assert provider.id is not None
    application = Application(
        provider_id=provider.id,
        municipality_id=municipality_id,
        standard_id=standard_id,
        status=ApplicationStatus.APPROVED,
        created_by_user_id=admin,
    )
    session.add(application)
    await session.flush()
    assert application.id is not None
    approval = Approval(
        provider_id=provider.id,
        municipality_id=municipality_id,
        service="madservice",
        application_id=application.id,
        standard_id=standard_id,
        valid_from=today - timedelta(days=1),
        valid_to=today + timedelta(days=365),
        daily_capacity=100,
        approved_by_user_id=admin,
    )
    session.add(approval)
    await session.flush()
    assert approval.id is not None
    session.add_all(
        [ApprovalPostalCode(approval_id=approval.id, postal_code=c) for c in delivers_to]
    )
    session.add(
        ContractTermsVersion(
            approval_id=approval.id,
            version=1,
            unit_price_ore=9000,
            valid_from=today - timedelta(days=1),
            created_by_user_id=admin,
        )
    )
    for offer_name, diets, allergens in offers:
        session.add(
            Offer(
                provider_id=provider.id,
                name=offer_name,
                diet_forms=diets,
                allergens=allergens,
                weekdays=weekdays,
            )
        )
    if cutoff_days_before is not None:
        session.add(
            OrderingProfile(
                provider_id=provider.id,
                cutoff_days_before=cutoff_days_before,
                cutoff_time=time(14, 0),
            )
        )
    await session.flush()
    return provider
