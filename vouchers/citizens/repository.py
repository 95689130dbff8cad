"""Queries of the vouchers citizens."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped
from sqlmodel import col

from market.auth.models import User
from vouchers.models import (
    Citizen,
    ProxyIdentity,
    ProxyLink,
)

# --- citizens --------------------------------------------------------------


async def add(session: AsyncSession, row: Any) -> Any:
    session.add(row)
    await session.flush()
    return row


async def flush(session: AsyncSession) -> None:
    await session.flush()


async def get_citizen(session: AsyncSession, citizen_id: int) -> Citizen | None:
    return await session.get(Citizen, citizen_id)


async def get_citizen_by_user(session: AsyncSession, user_id: int) -> Citizen | None:
    result = await session.execute(select(Citizen).where(col(Citizen.user_id) == user_id))
    return result.scalar_one_or_none()


async def find_citizen_by_cpr_hash(
    session: AsyncSession, municipality_id: int, cpr_hash: str
) -> Citizen | None:
    result = await session.execute(
        select(Citizen).where(
            col(Citizen.municipality_id) == municipality_id, col(Citizen.cpr_hash) == cpr_hash
        )
    )
    return result.scalar_one_or_none()


async def search_citizens(
    session: AsyncSession, municipality_id: int, text: str, limit: int = 50
) -> Sequence[Citizen]:
    query = select(Citizen).where(col(Citizen.municipality_id) == municipality_id)
    if text:
        # autoescape: a % or _ typed in the search is a character, not a wildcard.
        query = query.where(
            or_(
                func.lower(col(Citizen.full_name)).contains(text.lower(), autoescape=True),
                func.lower(col(Citizen.address)).contains(text.lower(), autoescape=True),
                col(Citizen.postal_code) == text,
            )
        )
    result = await session.execute(
        query.order_by(col(Citizen.full_name), col(Citizen.id)).limit(limit)
    )
    return result.scalars().all()


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(col(User.email) == email))
    return result.scalar_one_or_none()


async def set_password_hash(session: AsyncSession, user_id: int, password_hash: str) -> None:
    await session.execute(
        update(User).where(col(User.id) == user_id).values(password_hash=password_hash)
    )


# --- proxies ---------------------------------------------------------------


async def proxies_of(session: AsyncSession, citizen_id: int) -> list[tuple[ProxyLink, User]]:
    result = await session.execute(
        select(ProxyLink, User)
        .join(User, col(User.id) == col(ProxyLink.proxy_user_id))
        .where(col(ProxyLink.citizen_id) == citizen_id)
        .order_by(col(ProxyLink.created_at), col(ProxyLink.id))
    )
    return [(link, user) for link, user in result.all()]


async def active_link(
    session: AsyncSession, citizen_id: int, proxy_user_id: int
) -> ProxyLink | None:
    result = await session.execute(
        select(ProxyLink).where(
            col(ProxyLink.citizen_id) == citizen_id,
            col(ProxyLink.proxy_user_id) == proxy_user_id,
            col(ProxyLink.revoked_at).is_(None),
        )
    )
    return result.scalars().first()


def is_citizen(citizen_id: int | ColumnElement[int]) -> ColumnElement[bool]:
    return col(Citizen.id) == citizen_id


def is_citizen_of_user(user_id: int | ColumnElement[int]) -> ColumnElement[bool]:
    return col(Citizen.user_id) == user_id


def active_link_exists(
    citizen_id: ColumnElement[Any] | Mapped[Any], proxy_user_id: int | ColumnElement[int]
) -> ColumnElement[bool]:
    """``active_link`` as a condition on a citizen's id column, for a caller's
    own read."""
    return exists().where(
        col(ProxyLink.citizen_id) == citizen_id,
        col(ProxyLink.proxy_user_id) == proxy_user_id,
        col(ProxyLink.revoked_at).is_(None),
    )


async def proxy_by_cpr_hash(session: AsyncSession, cpr_hash: str) -> ProxyIdentity | None:
    result = await session.execute(
        select(ProxyIdentity).where(col(ProxyIdentity.cpr_hash) == cpr_hash)
    )
    return result.scalar_one_or_none()


async def proxy_identity_of(session: AsyncSession, user_id: int) -> ProxyIdentity | None:
    result = await session.execute(
        select(ProxyIdentity).where(col(ProxyIdentity.user_id) == user_id)
    )
    return result.scalar_one_or_none()


async def delete_proxy_identity(session: AsyncSession, row_id: int) -> None:
    await session.execute(delete(ProxyIdentity).where(col(ProxyIdentity.id) == row_id))


async def get_link(session: AsyncSession, link_id: int) -> ProxyLink | None:
    return await session.get(ProxyLink, link_id)


async def citizens_of_proxy(session: AsyncSession, proxy_user_id: int) -> Sequence[Citizen]:
    result = await session.execute(
        select(Citizen)
        .join(ProxyLink, col(ProxyLink.citizen_id) == col(Citizen.id))
        .where(col(ProxyLink.proxy_user_id) == proxy_user_id, col(ProxyLink.revoked_at).is_(None))
        .order_by(col(Citizen.full_name))
    )
    return result.scalars().all()


# --- batch look-ups for the ordering flow (kitchen lists, alert queue) ---


async def citizens_by_ids(session: AsyncSession, citizen_ids: Sequence[int]) -> dict[int, Citizen]:
    if not citizen_ids:
        return {}
    result = await session.execute(select(Citizen).where(col(Citizen.id).in_(set(citizen_ids))))
    return {c.id: c for c in result.scalars().all() if c.id is not None}
