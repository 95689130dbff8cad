"""Engine, session factory and the unit of work: one session per request that
commits once, before the response starts, when the response is a success, and
rolls back otherwise."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from fastapi import Request
from sqlalchemy import DateTime, Enum, String, Table, event, inspect
from sqlalchemy.engine import CursorResult, Dialect, Result, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from market.config import Settings


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC instant on both databases (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC instant is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ExactDecimal(TypeDecorator[Decimal]):
    """A decimal kept as its exact text: SQLite has no exact decimal type and
    would round through float. Thresholds are compared in Python, never in SQL."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


def create_engine(settings: Settings, **kwargs: Any) -> AsyncEngine:
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True, **kwargs)

    if url.database and url.database != ":memory:":
        from pathlib import Path

        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, **kwargs)
    busy_ms = settings.sqlite_busy_timeout_ms

    # SQLite's deferred BEGIN lets two writers both read and then fail with
    # "database is locked"; BEGIN IMMEDIATE takes the write lock up front and
    # waits for it (busy_timeout). Pattern from SQLAlchemy's SQLite dialect docs.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


SessionProvider = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def sessions_from(maker: async_sessionmaker[AsyncSession]) -> SessionProvider:
    @asynccontextmanager
    async def provide() -> AsyncIterator[AsyncSession]:
        async with maker() as session:
            yield session

    return provide


class UnitOfWorkMiddleware:
    """Opens one session per HTTP request. It commits just before the response
    starts if the status is below 400, so a client never sees success for a
    change that was not stored, and rolls back on any error status or exception."""

    def __init__(self, app: ASGIApp, provider: Callable[[], SessionProvider]) -> None:
        self.app = app
        self.provider = provider

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        async with self.provider()() as session:
            scope.setdefault("state", {})["db_session"] = session
            ended = False

            async def send_after_commit(message: Message) -> None:
                nonlocal ended
                if message["type"] == "http.response.start" and not ended:
                    ended = True
                    if message["status"] < 400 or scope["state"].get("commit_despite_error"):
                        await session.commit()
                    else:
                        await session.rollback()
                await send(message)

            try:
                await self.app(scope, receive, send_after_commit)
            except BaseException:
                if not ended:
                    await session.rollback()
                raise


async def get_session(request: Request) -> AsyncSession:
    """The request's unit of work. Services flush, never commit."""
    return request.state.db_session


def enum_type(enum_cls: type[StrEnum]) -> Enum:
    """Lifecycle enums are stored by value as plain strings: adding a state later
    needs no ALTER TYPE on PostgreSQL, and the transition tables guard the values."""
    return Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a SQLModel table class, typed (SQLModel leaves
    ``__table__`` untyped), for set-based statements written in Core."""
    table = inspect(model).local_table
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a table")
    return table


def rows_matched(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE matched. ``execute`` is typed as
    returning a plain ``Result``; for those statements it is a ``CursorResult``."""
    if not isinstance(result, CursorResult):
        raise TypeError("rows_matched needs the result of an UPDATE or DELETE")
    return result.rowcount
