"""Serving the app, the demo, the schema and the periodic work."""

import os
from typing import Annotated, Any

import typer

from market.cli.common import refused, run, sync
from market.config import get_settings

serving_app = typer.Typer()
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


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
        log_config=logging_config(get_settings()),
        **uvicorn_options(),
    )


def _serve(host: str, port: int) -> None:
    """Through ``market.cli.serve_app``, the name the package exports, so that
    replacing it there (as the tests do) replaces it for every command."""
    from market import cli

    cli.serve_app(host, port)


def uvicorn_options() -> dict[str, Any]:
    """How the bundled server runs: it trusts X-Forwarded-* from the proxy in front
    (so rate limits see the client's address) and names no server in its answers."""
    return {"proxy_headers": True, "server_header": False}


@serving_app.command()
def serve(
    host: Annotated[str, typer.Option(envvar="HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="PORT")] = 8000,
) -> None:
    """Serve the web app and the JSON API."""
    _serve(host, port)


@serving_app.command()
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
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from market import demo as demo_data
    from market.admin_tasks import TaskError
    from market.migrations import upgrade

    if serve_after:
        # Before the settings are first read: they are cached for the process.
        os.environ.setdefault("MARKET_RUN_PERIODIC", "true")
        get_settings.cache_clear()
    settings = get_settings()
    with refused(TaskError):
        if reset and settings.is_sqlite:
            demo_data.remove_sqlite_file(settings.database_url)
        elif not settings.is_sqlite:
            run(demo_data.reset_postgresql(settings))
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
    if identity_provider:
        from market.identity import demo as identity_demo

        typer.echo("")
        for line in identity_demo.start(settings):
            typer.echo(line)
    typer.echo(f"\nOpen http://{host}:{port}/ in a browser.\n")
    if serve_after:
        _serve(host, port)


@serving_app.command()
def tick() -> None:
    """Run the periodic work once (deliver the outbox, …); for cron."""
    from market import admin_tasks
    from market.operations.logs import configure_logging

    configure_logging(get_settings())
    report = run(admin_tasks.tick(get_settings()))
    for job, result in report.items():
        typer.echo(f"{job}: {result}")
