"""Every query of the providers domain is in the parts' repository.py; here
are the writes they share: add, save, and the conditional status move."""

from enum import StrEnum
from typing import Any, TypeVar, cast

from sqlalchemy import update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from providers.models import (
    Application,
    Approval,
    QualityStandard,
)

Row = TypeVar("Row", bound=SQLModel)


async def add(session: AsyncSession, row: Row) -> Row:
    session.add(row)
    await session.flush()
    return row


async def save(session: AsyncSession, row: SQLModel) -> None:
    """Flushes changes made to an already loaded row."""
    session.add(row)
    await session.flush()


async def move_status(
    session: AsyncSession,
    model: type[Application] | type[Approval] | type[QualityStandard],
    row_id: int,
    current: StrEnum,
    target: StrEnum,
    values: dict[str, Any],
) -> bool:
    """One conditional UPDATE: moves the row only if it is still in ``current``.
    Of two people acting at once, exactly one wins, on SQLite and PostgreSQL alike;
    the loaded row in the session is updated with it."""
    result = await session.execute(
        update(model)
        .where(col(model.id) == row_id, col(model.status) == current)
        .values(status=target, **values)
    )
    # An UPDATE's result is a cursor result: it counts the rows it changed.
    return cast("CursorResult[Any]", result).rowcount == 1
