"""Command-line tasks, each one unit of work against the configured database."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import checkpoints
from market.audit import service as audit
from market.audit.checkpoints import CheckpointResult
from market.audit.service import VerifyReport
from market.auth import service as auth_service
from market.auth.models import Role
from market.config import Settings
from market.db import create_engine, create_sessionmaker
from market.errors import AppError
from market.municipalities import repository as municipality_repository

if TYPE_CHECKING:
    from market.onboarding.service import MunicipalitySetup


class TaskError(Exception):
    pass


@asynccontextmanager
async def unit_of_work(settings: Settings) -> AsyncIterator[AsyncSession]:
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
    finally:
        await engine.dispose()


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError as exc:
        raise TaskError(f"unknown role {role!r}") from exc


async def _organisation(
    session: AsyncSession, *, municipality_code: str | None, provider_cvr: str | None
) -> tuple[int | None, int | None]:
    """The ids of the municipality (by code) and the provider (by CVR) a new
    user belongs to; a code or CVR that names nothing is a TaskError."""
    from providers.registry import repository as provider_registry

    municipality_id = provider_id = None
    if municipality_code:
        municipality = await municipality_repository.get_by_code(session, municipality_code)
        if municipality is None:
            raise TaskError(f"no municipality with code {municipality_code}")
        municipality_id = municipality.id
    if provider_cvr:
        provider = await provider_registry.get_provider_by_cvr(session, provider_cvr)
        if provider is None:
            raise TaskError(f"no provider with CVR {provider_cvr}")
        provider_id = provider.id
    return municipality_id, provider_id


async def create_user(
    settings: Settings,
    *,
    email: str,
    full_name: str,
    role: str,
    password: str,
    municipality_code: str | None,
    provider_cvr: str | None,
) -> int:
    role_value = _role(role)
    async with unit_of_work(settings) as session:
        municipality_id, provider_id = await _organisation(
            session, municipality_code=municipality_code, provider_cvr=provider_cvr
        )
        try:
            user = await auth_service.create_user(
                session,
                actor=None,
                email=email,
                full_name=full_name,
                password=password,
                role=role_value,
                municipality_id=municipality_id,
                provider_id=provider_id,
            )
        except AppError as exc:
            raise TaskError(str(exc)) from exc
        assert user.id is not None
        return user.id


async def verify_audit(
    settings: Settings, *, checkpoint_text: str | None = None
) -> tuple[VerifyReport, list[CheckpointResult]]:
    """The chains, and each head a checkpoint signed (refused when the file is
    not one this installation signed: CheckpointRefused)."""
    entries = checkpoints.parse(checkpoint_text, settings=settings) if checkpoint_text else []
    async with unit_of_work(settings) as session:
        report = await audit.verify(session)
        return report, await checkpoints.check(session, entries=entries)


async def audit_checkpoint(settings: Settings) -> dict[str, Any]:
    async with unit_of_work(settings) as session:
        return await checkpoints.make(session, settings=settings)


async def tick(settings: Settings) -> dict[str, object]:
    from market import tick as periodic

    engine = create_engine(settings)
    try:
        return await periodic.run_once(settings, create_sessionmaker(engine))
    finally:
        await engine.dispose()


async def set_up_municipality(settings: Settings, setup: "MunicipalitySetup") -> int:
    """``market municipalities create``: the same rules as the page."""
    from market.onboarding.service import set_up_municipality as set_up

    async with unit_of_work(settings) as session:
        try:
            municipality = await set_up(session, actor=None, setup=setup)
        except AppError as exc:
            raise TaskError(str(exc)) from exc
        assert municipality.id is not None
        return municipality.id


async def list_municipalities(settings: Settings) -> list[tuple[str, str, str, int]]:
    """(code, name, telephone, number of active staff) per municipality."""
    from market.auth import repository as auth_repository
    from market.auth.models import MUNICIPAL_STAFF_ROLES

    rows = []
    async with unit_of_work(settings) as session:
        for m in await municipality_repository.list_all(session):
            staff = await auth_repository.list_users(session, municipality_id=m.id)
            active = [u for u in staff if u.is_active and u.role in MUNICIPAL_STAFF_ROLES]
            rows.append((m.code, m.name, m.contact_phone or "-", len(active)))
    return rows


async def invite_user(
    settings: Settings,
    *,
    email: str,
    role: str,
    full_name: str,
    municipality_code: str | None,
    provider_cvr: str | None,
) -> tuple[str, bool]:
    """``market users invite``: returns the link and whether it was e-mailed."""
    from market.people import service as people

    role_value = _role(role)
    async with unit_of_work(settings) as session:
        municipality_id, provider_id = await _organisation(
            session, municipality_code=municipality_code, provider_cvr=provider_cvr
        )
        try:
            invitation = await people.invite(
                session,
                settings=settings,
                actor=None,
                email=email,
                role=role_value,
                full_name=full_name,
                municipality_id=municipality_id,
                provider_id=provider_id,
            )
        except AppError as exc:
            raise TaskError(str(exc)) from exc
        return invitation.link, invitation.emailed
