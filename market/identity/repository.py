"""Every query of market.identity."""

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.auth.models import User
from market.db import rows_matched
from market.identity.models import (
    Audience,
    BindingLink,
    IdentityBinding,
    IdentityProvider,
    LoginState,
    ProviderSession,
)


async def get_provider(session: AsyncSession, provider_id: int) -> IdentityProvider | None:
    return await session.get(IdentityProvider, provider_id)


async def provider_for(
    session: AsyncSession, municipality_id: int, audience: Audience
) -> IdentityProvider | None:
    result = await session.execute(
        select(IdentityProvider).where(
            col(IdentityProvider.municipality_id) == municipality_id,
            col(IdentityProvider.audience) == audience,
        )
    )
    return result.scalar_one_or_none()


async def list_providers(session: AsyncSession) -> list[IdentityProvider]:
    result = await session.execute(
        select(IdentityProvider).order_by(
            col(IdentityProvider.municipality_id), col(IdentityProvider.audience)
        )
    )
    return list(result.scalars())


async def enabled_audiences(session: AsyncSession, municipality_id: int) -> set[Audience]:
    result = await session.execute(
        select(col(IdentityProvider.audience)).where(
            col(IdentityProvider.municipality_id) == municipality_id,
            col(IdentityProvider.enabled).is_(True),
        )
    )
    return set(result.scalars())


async def staff_passwords_allowed(session: AsyncSession, municipality_id: int) -> bool:
    result = await session.execute(
        select(col(IdentityProvider.staff_passwords_allowed)).where(
            col(IdentityProvider.municipality_id) == municipality_id,
            col(IdentityProvider.audience) == Audience.STAFF,
            col(IdentityProvider.enabled).is_(True),
        )
    )
    allowed = result.scalar_one_or_none()
    return True if allowed is None else bool(allowed)


async def add(session: AsyncSession, row: object) -> None:
    session.add(row)
    await session.flush()


async def binding_for_subject(
    session: AsyncSession, provider_id: int, subject: str
) -> IdentityBinding | None:
    result = await session.execute(
        select(IdentityBinding).where(
            col(IdentityBinding.identity_provider_id) == provider_id,
            col(IdentityBinding.subject) == subject,
        )
    )
    return result.scalar_one_or_none()


async def binding_for_user(
    session: AsyncSession, provider_id: int, user_id: int
) -> IdentityBinding | None:
    result = await session.execute(
        select(IdentityBinding).where(
            col(IdentityBinding.identity_provider_id) == provider_id,
            col(IdentityBinding.user_id) == user_id,
        )
    )
    return result.scalar_one_or_none()


async def delete_binding(session: AsyncSession, binding_id: int) -> None:
    await session.execute(delete(IdentityBinding).where(col(IdentityBinding.id) == binding_id))


async def delete_bindings_of(session: AsyncSession, provider_id: int) -> None:
    await session.execute(
        delete(IdentityBinding).where(col(IdentityBinding.identity_provider_id) == provider_id)
    )


async def bound_user_ids(session: AsyncSession, provider_id: int) -> set[int]:
    result = await session.execute(
        select(col(IdentityBinding.user_id)).where(
            col(IdentityBinding.identity_provider_id) == provider_id
        )
    )
    return set(result.scalars())


async def staff_of(session: AsyncSession, municipality_id: int, roles: frozenset) -> list[User]:
    result = await session.execute(
        select(User)
        .where(col(User.municipality_id) == municipality_id, col(User.role).in_(roles))
        .order_by(col(User.full_name))
    )
    return list(result.scalars())


async def get_binding_link(session: AsyncSession, token_hash: str) -> BindingLink | None:
    result = await session.execute(
        select(BindingLink).where(col(BindingLink.token_hash) == token_hash)
    )
    return result.scalar_one_or_none()


async def use_binding_link(session: AsyncSession, link_id: int, now: datetime) -> bool:
    """Marks the link used if it still can be: one conditional UPDATE, so two
    sign-ins racing on one link cannot both bind."""
    result = await session.execute(
        update(BindingLink)
        .where(
            col(BindingLink.id) == link_id,
            col(BindingLink.used_at).is_(None),
            col(BindingLink.expires_at) > now,
        )
        .values(used_at=now)
    )
    return rows_matched(result) == 1


async def consume_state(session: AsyncSession, state_hash: str, now: datetime) -> LoginState | None:
    """The state once: an UPDATE that only one callback can win."""
    result = await session.execute(
        update(LoginState)
        .where(
            col(LoginState.state_hash) == state_hash,
            col(LoginState.used_at).is_(None),
            col(LoginState.expires_at) > now,
        )
        .values(used_at=now)
    )
    if rows_matched(result) != 1:
        return None
    found = await session.execute(
        select(LoginState).where(col(LoginState.state_hash) == state_hash)
    )
    return found.scalar_one()


async def delete_old_states(session: AsyncSession, before: datetime) -> None:
    await session.execute(delete(LoginState).where(col(LoginState.expires_at) < before))


async def provider_session_for(
    session: AsyncSession, user_session_id: int
) -> ProviderSession | None:
    result = await session.execute(
        select(ProviderSession).where(col(ProviderSession.user_session_id) == user_session_id)
    )
    return result.scalar_one_or_none()


async def delete_provider_session(session: AsyncSession, row_id: int) -> None:
    await session.execute(delete(ProviderSession).where(col(ProviderSession.id) == row_id))
