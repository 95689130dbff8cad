"""Queries of the vouchers letters."""

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from vouchers.models import (
    LetterCode,
)

# --- letter codes ------------------------------------------------------------


async def find_letter_code(session: AsyncSession, code_hash: str) -> LetterCode | None:
    result = await session.execute(select(LetterCode).where(col(LetterCode.code_hash) == code_hash))
    return result.scalar_one_or_none()


async def open_letter_code(session: AsyncSession, user_id: int, now: datetime) -> LetterCode | None:
    result = await session.execute(
        select(LetterCode)
        .where(
            col(LetterCode.user_id) == user_id,
            col(LetterCode.used_at).is_(None),
            col(LetterCode.replaced_at).is_(None),
            col(LetterCode.expires_at) > now,
        )
        .order_by(col(LetterCode.id).desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


async def replace_open_codes(session: AsyncSession, user_id: int, now: datetime) -> None:
    await session.execute(
        update(LetterCode)
        .where(
            col(LetterCode.user_id) == user_id,
            col(LetterCode.used_at).is_(None),
            col(LetterCode.replaced_at).is_(None),
        )
        .values(replaced_at=now)
    )


async def mark_code_used(session: AsyncSession, code_id: int, now: datetime) -> bool:
    """Single use even under concurrency: only one caller's UPDATE matches."""
    result = await session.execute(
        update(LetterCode)
        .where(col(LetterCode.id) == code_id, col(LetterCode.used_at).is_(None))
        .values(used_at=now)
        .returning(col(LetterCode.id))
    )
    return result.scalar_one_or_none() is not None
