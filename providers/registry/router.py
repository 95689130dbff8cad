"""JSON API of the provider register: signing up, the provider's own
details, and the municipality's directory."""

from typing import Annotated

from fastapi import APIRouter, Depends

from market.auth.dependencies import Session, public, require
from market.auth.permissions import Actor, Permission
from providers.approvals.router import approval_out
from providers.registry import service as registry_service
from providers.schemas import (
    DirectoryEntry,
    ProviderDetailsIn,
    ProviderOut,
    ProviderRegistration,
    RegistrationOut,
)

router = APIRouter(prefix="/api/v1", tags=["providers"])
P = Permission


def _directory_entry(row: registry_service.DirectoryRow) -> DirectoryEntry:
    return DirectoryEntry(
        provider=ProviderOut.model_validate(row.provider),
        approvals=[approval_out(v) for v in row.approvals],
        application_statuses=[a.status for a in row.applications],
    )


@router.post("/providers", response_model=RegistrationOut, status_code=201)
async def register_provider(
    session: Session,
    actor: Annotated[Actor | None, Depends(public)],
    body: ProviderRegistration,
) -> RegistrationOut:
    """Registers a provider and its first administrator (who then signs in)."""
    result = await registry_service.register_provider(session, actor=actor, registration=body)
    assert result.admin.id is not None
    return RegistrationOut(
        provider=ProviderOut.model_validate(result.provider), admin_user_id=result.admin.id
    )


@router.get("/providers", response_model=list[DirectoryEntry])
async def list_providers(
    session: Session, actor: Annotated[Actor, Depends(require(P.PROVIDER_DIRECTORY_VIEW))]
) -> list[DirectoryEntry]:
    """Providers with an approval or application in the caller's municipality."""
    return [
        _directory_entry(r) for r in await registry_service.provider_directory(session, actor=actor)
    ]


@router.get("/providers/me", response_model=ProviderOut)
async def get_own_provider(
    session: Session, actor: Annotated[Actor, Depends(require(P.STANDARD_VIEW))]
) -> ProviderOut:
    return ProviderOut.model_validate(await registry_service.own_provider(session, actor=actor))


@router.put("/providers/me", response_model=ProviderOut)
async def update_own_provider(
    session: Session,
    actor: Annotated[Actor, Depends(require(P.PROVIDER_PROFILE_EDIT))],
    body: ProviderDetailsIn,
) -> ProviderOut:
    provider = await registry_service.update_provider(session, actor=actor, details=body)
    return ProviderOut.model_validate(provider)


@router.get("/providers/{provider_id}", response_model=DirectoryEntry)
async def get_provider(
    session: Session,
    provider_id: int,
    actor: Annotated[Actor, Depends(require(P.PROVIDER_DIRECTORY_VIEW))],
) -> DirectoryEntry:
    row = await registry_service.provider_detail(session, actor=actor, provider_id=provider_id)
    return _directory_entry(row)
