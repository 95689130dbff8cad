"""The `market` command."""

import asyncio
import os
from typing import Annotated

import typer

from market.config import get_settings
from market.identity.cli import identity_app

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
app.add_typer(identity_app, name="identity")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply the Alembic migrations to the configured database."""
    from market.migrations import upgrade

    upgrade(get_settings().database_url, revision)
    typer.echo(f"Database at revision {revision}.")


def serve_app(host: str, port: int, reload: bool = False) -> None:
    import uvicorn

    uvicorn.run("market.asgi:app", host=host, port=port, reload=reload, proxy_headers=True)


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
    identity_provider: Annotated[
        bool,
        typer.Option(
            "--identity-provider/--no-identity-provider",
            envvar="MARKET_DEMO_IDENTITY_PROVIDER",
            help="Start a mock MitID broker and staff login on loopback (docs/identity.md).",
        ),
    ] = False,
) -> None:
    """Migrate, seed two municipalities with data in every state, print logins, serve."""
    from market import demo as demo_data
    from market.migrations import upgrade

    settings = get_settings()
    if reset and settings.is_sqlite:
        demo_data.remove_sqlite_file(settings.database_url)
    upgrade(settings.database_url)
    logins = asyncio.run(demo_data.seed(settings))
    typer.echo("\nDemo logins (password for all: " + demo_data.DEMO_PASSWORD + "):")
    width = max(len(role) for role, _ in logins)
    for role, email in logins:
        typer.echo(f"  {role.ljust(width)}  {email}")
    if identity_provider:
        from market.identity import demo as identity_demo

        typer.echo("")
        for line in identity_demo.start(settings):
            typer.echo(line)
    typer.echo(f"\nOpen http://{host}:{port}/ in a browser.\n")
    if serve_after:
        os.environ.setdefault("MARKET_RUN_PERIODIC", "true")
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
        user_id = asyncio.run(
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
        raise typer.Exit(2) from exc
    typer.echo(f"Created user {user_id} <{email}> as {role}.")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check every audit chain; names the first broken link and exits 1 if any."""
    from market import admin_tasks

    report = asyncio.run(admin_tasks.verify_audit(get_settings()))
    for chain in report.chains:
        if chain.ok:
            typer.echo(f"ok      {chain.chain}: {chain.events} events")
        else:
            typer.echo(f"BROKEN  {chain.chain} at event {chain.broken_at_seq}: {chain.problem}")
    if not report.ok:
        raise typer.Exit(1)
    typer.echo("The audit chain is intact.")


@vouchers_app.command("verify")
def vouchers_verify() -> None:
    """Check every voucher ledger invariant; names what is wrong and exits 1 if anything is."""
    from market.admin_tasks import unit_of_work
    from vouchers.schemas import LedgerReport
    from vouchers.service import verify_ledger

    async def run() -> "LedgerReport":
        async with unit_of_work(get_settings()) as session:
            return await verify_ledger(session)

    report = asyncio.run(run())
    for problem in report.problems:
        typer.echo(f"WRONG   {problem}")
    typer.echo(
        f"{report.grants} grants, {report.accounts} accounts, {report.transfers} transfers checked."
    )
    if not report.ok:
        raise typer.Exit(1)
    typer.echo("The voucher ledger balances.")


@app.command()
def tick() -> None:
    """Run the periodic work once (deliver the outbox, …); for cron."""
    from market import admin_tasks

    report = asyncio.run(admin_tasks.tick(get_settings()))
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

    async def run(progress: Progress) -> "settlement.MonthView":
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
            view = asyncio.run(run(progress))
    except (TaskError, AppError) as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from exc
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
