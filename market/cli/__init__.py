"""The `market` command (the console script is ``market.cli:app``). Each
group of commands is a module of its own; this module puts them together."""

import typer

from market.cli.checks import audit_app, vouchers_app
from market.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_NO_DATABASE,
    EXIT_PROBLEM_FOUND,
    database_errors,
    run,
    sync,
)
from market.cli.operations import keys_app, operations_app
from market.cli.people import municipalities_app, users_app
from market.cli.serving import db_app, serve_app, serving_app, uvicorn_options
from market.cli.settlement import settlement_app
from market.identity.cli import identity_app

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_NO_DATABASE",
    "EXIT_PROBLEM_FOUND",
    "app",
    "database_errors",
    "run",
    "serve_app",
    "sync",
    "uvicorn_options",
]

app = typer.Typer(
    help="Velfærdsmarked: voucher marketplace for municipal welfare services.", no_args_is_help=True
)
# Top-level commands (serve, demo, tick, backup, restore, settle), in this order.
app.add_typer(serving_app)
app.add_typer(operations_app)
app.add_typer(settlement_app)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(vouchers_app, name="vouchers")
app.add_typer(municipalities_app, name="municipalities")
app.add_typer(identity_app, name="identity")
app.add_typer(keys_app, name="keys")
