from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.auth.models import ApiToken, Role, User, UserSession


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(col(User.email) == email))
    return result.scalar_one_or_none()


async def add_user(session: AsyncSession, user: User) -> User:
    session.add(user)
    await session.flush()
    return user


async def list_users(
    session: AsyncSession,
    *,
    municipality_id: int | None = None,
    provider_id: int | None = None,
    role: Role | None = None,
) -> list[User]:
    query = select(User).order_by(col(User.full_name))
    if municipality_id is not None:
        query = query.where(col(User.municipality_id) == municipality_id)
    if provider_id is not None:
        query = query.where(col(User.provider_id) == provider_id)
    if role is not None:
        query = query.where(col(User.role) == role)
    return list((await session.execute(query)).scalars().all())


async def record_failed_login(session: AsyncSession, user_id: int) -> int:
    result = await session.execute(
        update(User)
        .where(col(User.id) == user_id)
        .values(failed_login_count=col(User.failed_login_count) + 1)
        .returning(col(User.failed_login_count))
    )
    return result.scalar_one()


async def set_locked_until(session: AsyncSession, user_id: int, until: datetime | None) -> None:
    await session.execute(update(User).where(col(User.id) == user_id).values(locked_until=until))


async def reset_failed_logins(session: AsyncSession, user_id: int) -> None:
    await session.execute(
        update(User).where(col(User.id) == user_id).values(failed_login_count=0, locked_until=None)
    )


async def add_session(session: AsyncSession, user_session: UserSession) -> UserSession:
    session.add(user_session)
    await session.flush()
    return user_session


async def get_session_by_hash(
    session: AsyncSession, token_hash: str
) -> tuple[UserSession, User] | None:
    result = await session.execute(
        select(UserSession, User)
        .join(User, col(User.id) == col(UserSession.user_id))
        .where(col(UserSession.token_hash) == token_hash)
    )
    row = result.one_or_none()
    return None if row is None else (row[0], row[1])


async def delete_session(session: AsyncSession, token_hash: str) -> None:
    await session.execute(delete(UserSession).where(col(UserSession.token_hash) == token_hash))


async def delete_sessions_of(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(UserSession).where(col(UserSession.user_id) == user_id))


async def clear_second_factor_pending(session: AsyncSession, session_id: int) -> None:
    await session.execute(
        update(UserSession)
        .where(col(UserSession.id) == session_id)
        .values(second_factor_pending=False)
    )


async def add_api_token(session: AsyncSession, token: ApiToken) -> ApiToken:
    session.add(token)
    await session.flush()
    return token


async def get_api_token_by_hash(
    session: AsyncSession, token_hash: str
) -> tuple[ApiToken, User] | None:
    result = await session.execute(
        select(ApiToken, User)
        .join(User, col(User.id) == col(ApiToken.user_id))
        .where(col(ApiToken.token_hash) == token_hash, col(ApiToken.revoked_at).is_(None))
    )
    row = result.one_or_none()
    return None if row is None else (row[0], row[1])


async def touch_api_token(session: AsyncSession, token_id: int, when: datetime) -> None:
    await session.execute(
        update(ApiToken).where(col(ApiToken.id) == token_id).values(last_used_at=when)
    )


async def list_api_tokens(
    session: AsyncSession, *, provider_id: int | None = None, municipality_id: int | None = None
) -> list[ApiToken]:
    """A provider's tokens, or a municipality's own (not its providers')."""
    query = select(ApiToken).join(User, col(User.id) == col(ApiToken.user_id))
    if provider_id is not None:
        query = query.where(col(User.provider_id) == provider_id)
    else:
        query = query.where(
            col(User.provider_id).is_(None), col(User.municipality_id) == municipality_id
        )
    result = await session.execute(query.order_by(col(ApiToken.created_at).desc()))
    return list(result.scalars().all())


async def get_api_token(session: AsyncSession, token_id: int) -> tuple[ApiToken, User] | None:
    result = await session.execute(
        select(ApiToken, User)
        .join(User, col(User.id) == col(ApiToken.user_id))
        .where(col(ApiToken.id) == token_id)
    )
    row = result.one_or_none()
    return None if row is None else (row[0], row[1])


async def revoke_api_token(session: AsyncSession, token_id: int, when: datetime) -> None:
    await session.execute(
        update(ApiToken).where(col(ApiToken.id) == token_id).values(revoked_at=when)
    )


async def set_totp(
    session: AsyncSession, user_id: int, *, secret_encrypted: str | None, enabled: bool
) -> None:
    await session.execute(
        update(User)
        .where(col(User.id) == user_id)
        .values(totp_secret_encrypted=secret_encrypted, totp_enabled=enabled)
    )


async def claim_totp_step(session: AsyncSession, user_id: int, step: int) -> bool:
    """Records ``step`` as used unless it (or a later one) was used before: one
    conditional UPDATE, so two requests with the same code cannot both win."""
    result = await session.execute(
        update(User)
        .where(
            col(User.id) == user_id,
            or_(col(User.totp_last_step).is_(None), col(User.totp_last_step) < step),
        )
        .values(totp_last_step=step)
    )
    return cast(CursorResult[Any], result).rowcount == 1


async def record_failed_second_factor(session: AsyncSession, user_id: int) -> int:
    result = await session.execute(
        update(User)
        .where(col(User.id) == user_id)
        .values(failed_second_factor_count=col(User.failed_second_factor_count) + 1)
        .returning(col(User.failed_second_factor_count))
    )
    return result.scalar_one()


async def set_second_factor_locked_until(
    session: AsyncSession, user_id: int, until: datetime | None
) -> None:
    await session.execute(
        update(User).where(col(User.id) == user_id).values(second_factor_locked_until=until)
    )


async def reset_failed_second_factor(session: AsyncSession, user_id: int) -> None:
    await session.execute(
        update(User)
        .where(col(User.id) == user_id)
        .values(failed_second_factor_count=0, second_factor_locked_until=None)
    )


async def set_password_hash(session: AsyncSession, user_id: int, password_hash: str) -> None:
    await session.execute(
        update(User).where(col(User.id) == user_id).values(password_hash=password_hash)
    )
