from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.auth.models import ApiToken, Role, User, UserSession
from market.db import rows_matched
from market.people.models import TokenPurpose, UserToken


async def add_token(session: AsyncSession, token: UserToken) -> UserToken:
    session.add(token)
    await session.flush()
    return token


async def delete_open_tokens(
    session: AsyncSession, user_id: int, purpose: TokenPurpose | None = None
) -> None:
    query = delete(UserToken).where(
        col(UserToken.user_id) == user_id, col(UserToken.used_at).is_(None)
    )
    if purpose is not None:
        query = query.where(col(UserToken.purpose) == purpose)
    await session.execute(query)


async def get_token(
    session: AsyncSession, token_hash: str, purpose: TokenPurpose
) -> tuple[UserToken, User] | None:
    result = await session.execute(
        select(UserToken, User)
        .join(User, col(User.id) == UserToken.user_id)
        .where(col(UserToken.token_hash) == token_hash, col(UserToken.purpose) == purpose)
    )
    row = result.one_or_none()
    return None if row is None else (row[0], row[1])


async def use_token(session: AsyncSession, token_id: int, when: datetime) -> bool:
    """One conditional UPDATE: of two requests racing with one link, one wins."""
    result = await session.execute(
        update(UserToken)
        .where(col(UserToken.id) == token_id, col(UserToken.used_at).is_(None))
        .values(used_at=when)
    )
    return rows_matched(result) == 1


async def open_invitation_user_ids(session: AsyncSession, user_ids: list[int]) -> set[int]:
    if not user_ids:
        return set()
    result = await session.execute(
        select(col(UserToken.user_id)).where(
            col(UserToken.user_id).in_(user_ids),
            col(UserToken.purpose) == TokenPurpose.INVITATION,
            col(UserToken.used_at).is_(None),
        )
    )
    return set(result.scalars().all())


async def list_people(
    session: AsyncSession,
    *,
    roles: frozenset[Role],
    municipality_id: int | None = None,
    provider_id: int | None = None,
) -> list[User]:
    query = (
        select(User)
        .where(col(User.role).in_(list(roles)))
        .order_by(col(User.full_name), col(User.email))
    )
    if municipality_id is not None:
        query = query.where(col(User.municipality_id) == municipality_id)
    if provider_id is not None:
        query = query.where(col(User.provider_id) == provider_id)
    return list((await session.execute(query)).scalars().all())


async def set_user(session: AsyncSession, user_id: int, **values: object) -> None:
    await session.execute(update(User).where(col(User.id) == user_id).values(**values))


async def revoke_api_tokens_of(session: AsyncSession, user_id: int, when: datetime) -> None:
    await session.execute(
        update(ApiToken)
        .where(col(ApiToken.user_id) == user_id, col(ApiToken.revoked_at).is_(None))
        .values(revoked_at=when)
    )


async def refreshed_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id, populate_existing=True)


async def ask_second_factor_of_staff_without_one(
    session: AsyncSession, *, municipality_id: int, roles: frozenset[Role]
) -> None:
    """Open sessions of the municipality's staff who have no second factor go back
    to 'second factor pending': their next page is the set-up."""
    without = select(col(User.id)).where(
        col(User.municipality_id) == municipality_id,
        col(User.role).in_(list(roles)),
        col(User.totp_enabled).is_(False),
    )
    await session.execute(
        update(UserSession)
        .where(col(UserSession.user_id).in_(without))
        .values(second_factor_pending=True)
    )


async def latest_open_token_at(
    session: AsyncSession, user_id: int, purpose: TokenPurpose
) -> datetime | None:
    result = await session.execute(
        select(col(UserToken.created_at))
        .where(
            col(UserToken.user_id) == user_id,
            col(UserToken.purpose) == purpose,
            col(UserToken.used_at).is_(None),
        )
        .order_by(col(UserToken.created_at).desc())
        .limit(1)
    )
    return result.scalar_one_or_none()
