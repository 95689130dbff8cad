"""What every `market` command shares: exit codes, one sentence for an
unreachable database, and one for refused input."""

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer

from market.config import get_settings

T = TypeVar("T")

# Exit codes: 1 a verification found a problem, 2 bad input, 3 the database is unreachable.
EXIT_PROBLEM_FOUND = 1
EXIT_BAD_INPUT = 2
EXIT_NO_DATABASE = 3


def _database_label() -> str:
    from sqlalchemy.engine import make_url

    url = make_url(get_settings().database_url)
    if url.get_backend_name() == "sqlite":
        return f"the SQLite file {url.database}"
    return f"PostgreSQL database {url.database!r} on {url.host or 'localhost'}:{url.port or 5432}"


# asyncpg's own errors for an unknown database or a refused role or password.
_UNREACHABLE = {"InvalidCatalogNameError", "InvalidAuthorizationSpecificationError"}


def _unreachable(exc: BaseException) -> bool:
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if isinstance(exc, (OperationalError, InterfaceError, OSError)):
        return True
    # SQLAlchemy wraps asyncpg's error in an adapter error: look along the chain of causes.
    seen: BaseException | None = exc.orig if isinstance(exc, DBAPIError) else exc
    while seen is not None:
        if any(cls.__name__ in _UNREACHABLE for cls in type(seen).__mro__):
            return True
        seen = seen.__cause__
    return False


@contextmanager
def database_errors() -> Iterator[None]:
    """An unreachable database is one sentence and exit code 3, not a traceback."""
    try:
        yield
    except Exception as exc:
        if not _unreachable(exc):
            raise
        reason = getattr(exc, "orig", None) or exc
        reason = reason.__cause__ or reason
        first_line = str(reason).splitlines()[0] if str(reason) else "no answer"
        typer.echo(
            f"Error: cannot reach {_database_label()} ({type(reason).__name__}: {first_line}). "
            "Check MARKET_DATABASE_URL and that the database server is running.",
            err=True,
        )
        raise typer.Exit(EXIT_NO_DATABASE) from exc


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    with database_errors():
        return asyncio.run(coroutine)


def sync(function: Callable[..., T], *args: Any) -> T:
    with database_errors():
        return function(*args)


@contextmanager
def refused(*errors: type[BaseException]) -> Iterator[None]:
    """Any of ``errors`` is one line on standard error ("Error: …") and exit code 2."""
    try:
        yield
    except errors as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from exc
