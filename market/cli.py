"""The `market` command."""

import asyncio
import os
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from market.config import get_settings

T = TypeVar("T")

# Exit codes: 1 a verification found a problem, 2 bad input, 3 the database is unreachable.
EXIT_PROBLEM_FOUND = 1
EXIT_BAD_INPUT = 2
EXIT_NO_DATABASE = 3

app = typer.Typer(
    help="Velfærdsmarked: voucher marketplace for municipal welfare services.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit chain.", no_args_is_help=True)
vouchers_app = typer.Typer(help="Voucher grants and the voucher ledger.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(vouchers_app, name="vouchers")
keys_app = typer.Typer(help="The secret key that encrypts CPR numbers.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


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


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply the Alembic migrations to the configured database."""
    from market.migrations import upgrade

    sync(upgrade, get_settings().database_url, revision)
    typer.echo(f"Database at revision {revision}.")


def serve_app(host: str, port: int, reload: bool = False) -> None:
    import uvicorn

    from market.operations.logs import logging_config

    uvicorn.run(
        "market.asgi:app",
        host=host,
        port=port,
        reload=reload,
        proxy_headers=True,
        server_header=False,
        log_config=logging_config(get_settings()),
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(envvar="HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="PORT")] = 8000,
) -> None:
    """Serve the web app and the JSON API."""
    serve_app(host, port)


@app.command()
def demo(
    host: Annotated[str, typer.Option(envvar="HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="PORT")] = 8000,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve")] = True,
    reset: Annotated[bool, typer.Option(help="Delete the SQLite demo database first.")] = True,
) -> None:
    """Migrate, seed two municipalities with data in every state, print logins, serve."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from market import demo as demo_data
    from market.admin_tasks import TaskError
    from market.migrations import upgrade

    if serve_after:
        # Before the settings are first read: they are cached for the process.
        os.environ.setdefault("MARKET_RUN_PERIODIC", "true")
        get_settings.cache_clear()
    settings = get_settings()
    try:
        if reset and settings.is_sqlite:
            demo_data.remove_sqlite_file(settings.database_url)
        elif not settings.is_sqlite:
            run(demo_data.reset_postgresql(settings))
    except TaskError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    sync(upgrade, settings.database_url)
    with Progress(
        TextColumn("Seeding the demo: {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        transient=True,
    ) as progress:
        task = progress.add_task("starting", total=demo_data.SEED_STEPS)

        def step(name: str) -> None:
            done = progress.tasks[task].description != "starting"
            progress.update(task, description=name, advance=1 if done else 0)

        logins = run(demo_data.seed(settings, progress=step))
    typer.echo("\nDemo logins (password for all: " + demo_data.DEMO_PASSWORD + "):")
    width = max(len(role) for role, _ in logins)
    for role, email in logins:
        typer.echo(f"  {role.ljust(width)}  {email}")
    typer.echo(f"\nOpen http://{host}:{port}/ in a browser.\n")
    if serve_after:
        serve_app(host, port)


@users_app.command("create")
def users_create(
    email: str,
    full_name: Annotated[str, typer.Option(prompt=True)],
    role: Annotated[
        str,
        typer.Option(
            help="citizen, proxy, case_worker, municipal_admin, "
            "auditor, provider_staff, provider_admin, platform_admin"
        ),
    ],
    municipality_code: Annotated[str | None, typer.Option()] = None,
    provider_cvr: Annotated[str | None, typer.Option()] = None,
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)
    ] = "",
) -> None:
    """Create a user (for the first platform admin, or support)."""
    from market import admin_tasks

    try:
        user_id = run(
            admin_tasks.create_user(
                get_settings(),
                email=email,
                full_name=full_name,
                role=role,
                password=password,
                municipality_code=municipality_code,
                provider_cvr=provider_cvr,
            )
        )
    except admin_tasks.TaskError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    typer.echo(f"Created user {user_id} <{email}> as {role}.")


def _audit_ok() -> bool:
    from market import admin_tasks

    report = run(admin_tasks.verify_audit(get_settings()))
    for chain in report.chains:
        if chain.ok:
            typer.echo(f"ok      {chain.chain}: {chain.events} events")
        else:
            typer.echo(f"BROKEN  {chain.chain} at event {chain.broken_at_seq}: {chain.problem}")
    if report.ok:
        typer.echo("The audit chain is intact.")
    return report.ok


@audit_app.command("verify")
def audit_verify() -> None:
    """Check every audit chain; names the first broken link and exits 1 if any."""
    if not _audit_ok():
        raise typer.Exit(EXIT_PROBLEM_FOUND)


def _vouchers_ok() -> bool:
    from market.admin_tasks import unit_of_work
    from vouchers.schemas import LedgerReport
    from vouchers.service import verify_ledger

    async def check() -> "LedgerReport":
        async with unit_of_work(get_settings()) as session:
            return await verify_ledger(session)

    report = run(check())
    for problem in report.problems:
        typer.echo(f"WRONG   {problem}")
    typer.echo(
        f"{report.grants} grants, {report.accounts} accounts, {report.transfers} transfers checked."
    )
    if report.ok:
        typer.echo("The voucher ledger balances.")
    return report.ok


@vouchers_app.command("verify")
def vouchers_verify() -> None:
    """Check every voucher ledger invariant; names what is wrong and exits 1 if anything is."""
    if not _vouchers_ok():
        raise typer.Exit(EXIT_PROBLEM_FOUND)


@app.command()
def backup(
    file: Annotated[
        Path, typer.Argument(help="The archive to write, e.g. market-2026-12-01.tar.gz")
    ],
) -> None:
    """Back up the database and the upload folder into one archive (never the secret key)."""
    from rich.console import Console

    from market.operations.backup import BackupError
    from market.operations.backup import backup as make_backup

    try:
        with Console(stderr=True).status("Backing up the database and the uploads…"):
            report = sync(make_backup, get_settings(), file)
    except BackupError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    typer.echo(
        f"Wrote {report.path}: the {report.database} database and {report.files} uploaded "
        f"files, {report.bytes} bytes. Keep MARKET_SECRET_KEY apart from it."
    )


@app.command()
def restore(
    file: Annotated[Path, typer.Argument(help="An archive written by market backup.")],
) -> None:
    """Restore a backup into an empty database, then verify the voucher ledger and audit chain."""
    from rich.console import Console

    from market.operations.backup import BackupError
    from market.operations.backup import restore as restore_backup

    try:
        with Console(stderr=True).status("Checking the archive and restoring…"):
            report = sync(restore_backup, get_settings(), file)
    except BackupError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    typer.echo(
        f"Restored the {report['database']} database and {report['files']} uploaded files "
        f"from the backup of {report['created_at']}."
    )
    vouchers_ok = _vouchers_ok()
    audit_ok = _audit_ok()
    if not (vouchers_ok and audit_ok):
        raise typer.Exit(EXIT_PROBLEM_FOUND)


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt CPR numbers, letter codes and second-factor secrets under MARKET_SECRET_KEY,
    reading them with MARKET_OLD_SECRET_KEYS; one transaction."""
    from market.admin_tasks import unit_of_work
    from market.operations import keys

    settings = get_settings()
    if not settings.old_keys:
        typer.echo(
            "Error: set MARKET_OLD_SECRET_KEYS to the key (or keys, comma-separated) used "
            "until now, and MARKET_SECRET_KEY to the new one.",
            err=True,
        )
        raise typer.Exit(EXIT_BAD_INPUT)

    async def rotate() -> "keys.RotationReport":
        async with unit_of_work(settings) as session:
            return await keys.rotate(
                session,
                secret_key=settings.secret_key.get_secret_value(),
                old_keys=settings.old_keys,
            )

    try:
        report = run(rotate())
    except ValueError as exc:
        typer.echo(
            "Error: a value could not be read with MARKET_SECRET_KEY or any of "
            "MARKET_OLD_SECRET_KEYS; nothing was changed.",
            err=True,
        )
        raise typer.Exit(EXIT_PROBLEM_FOUND) from exc
    typer.echo(
        f"Re-encrypted {report.citizens} CPR numbers, {report.letter_codes} letter codes and "
        f"{report.second_factors} second-factor secrets under the new key. Remove "
        "MARKET_OLD_SECRET_KEYS once every machine runs with the new MARKET_SECRET_KEY."
    )


@app.command()
def tick() -> None:
    """Run the periodic work once (deliver the outbox, …); for cron."""
    from market import admin_tasks
    from market.operations.logs import configure_logging

    configure_logging(get_settings())
    report = run(admin_tasks.tick(get_settings()))
    for job, result in report.items():
        typer.echo(f"{job}: {result}")


@app.command()
def settle(
    municipality: Annotated[str, typer.Option(help="The municipality's code, e.g. 0751.")],
    month: Annotated[str, typer.Option(help="The month to settle, e.g. 2026-10.")],
    as_email: Annotated[
        str, typer.Option("--as", help="The e-mail of the admin who runs it (the preparer).")
    ],
) -> None:
    """Run a month's settlement as drafts (a second admin approves them on the web)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from market.admin_tasks import TaskError, unit_of_work
    from market.auth import repository as auth_repository
    from market.auth import service as auth_service
    from market.clock import parse_month
    from market.errors import AppError
    from market.municipalities import repository as municipality_repository
    from market.settlement import service as settlement
    from market.templating import kroner

    async def settle_month(progress: Progress) -> "settlement.MonthView":
        task = progress.add_task("Settling", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        async with unit_of_work(get_settings()) as session:
            found = await municipality_repository.get_by_code(session, municipality)
            if found is None:
                raise TaskError(f"no municipality with code {municipality}")
            user = await auth_repository.get_user_by_email(session, as_email.strip().lower())
            if user is None or not user.is_active:
                raise TaskError(f"no active user with e-mail {as_email}")
            if user.municipality_id != found.id:
                raise TaskError(f"{as_email} does not work for {found.name}")
            actor = auth_service.actor_for(user)
            month_on = parse_month(month)
            await settlement.run_month(session, actor=actor, month_on=month_on, progress=advance)
            return await settlement.month_view(session, actor=actor, month_on=month_on)

    try:
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            transient=True,
        ) as progress:
            view = run(settle_month(progress))
    except (TaskError, AppError) as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    for row in view.statements:
        statement = row.statement
        typer.echo(
            f"{statement.id:>6}  {row.provider_name:<40} {statement.status.value:<9} "
            f"{kroner(statement.total_ore, 'da'):>20}"
            + (
                f"  ({statement.unfinished_orders} orders not finished)"
                if statement.unfinished_orders
                else ""
            )
        )
    count = len(view.statements)
    noun = "statement" if count == 1 else "statements"
    # The kroner text ends in "kr.", so no full stop after it.
    typer.echo(f"{count} {noun} for {month}, total {kroner(view.total_ore, 'da')}")
