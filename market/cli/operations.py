"""Backup, restore and key rotation."""

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from market.cli.checks import audit_ok, vouchers_ok
from market.cli.common import EXIT_BAD_INPUT, EXIT_PROBLEM_FOUND, refused, run, sync
from market.config import Settings, get_settings

T = TypeVar("T")

operations_app = typer.Typer()
keys_app = typer.Typer(help="The secret key that encrypts CPR numbers.", no_args_is_help=True)


def _with_archive(status: str, task: Callable[[Settings, Path], T], file: Path) -> T:
    """Runs a backup or restore under a spinner; a BackupError is one sentence."""
    from rich.console import Console

    from market.operations.backup import BackupError

    with refused(BackupError), Console(stderr=True).status(status):
        return sync(task, get_settings(), file)


@operations_app.command()
def backup(
    file: Annotated[
        Path, typer.Argument(help="The archive to write, e.g. market-2026-12-01.tar.gz")
    ],
) -> None:
    """Back up the database and the upload folder into one archive (never the secret key)."""
    from market.operations.backup import backup as make_backup

    report = _with_archive("Backing up the database and the uploads…", make_backup, file)
    typer.echo(
        f"Wrote {report.path}: the {report.database} database and {report.files} uploaded "
        f"files, {report.bytes} bytes. Keep MARKET_SECRET_KEY apart from it."
    )


@operations_app.command()
def restore(
    file: Annotated[Path, typer.Argument(help="An archive written by market backup.")],
) -> None:
    """Restore a backup into an empty database, then verify the voucher ledger and audit chain."""
    from market.operations.backup import restore as restore_backup

    report = _with_archive("Checking the archive and restoring…", restore_backup, file)
    typer.echo(
        f"Restored the {report['database']} database and {report['files']} uploaded files "
        f"from the backup of {report['created_at']}."
    )
    ledger_ok = vouchers_ok()
    chain_ok = audit_ok()
    if not (ledger_ok and chain_ok):
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
    if settings.audit_key is None:
        typer.echo(
            "The audit chain is keyed with the secret key: before removing "
            "MARKET_OLD_SECRET_KEYS, add the old key to MARKET_AUDIT_PREVIOUS_KEYS, or the "
            "events written until now can no longer be verified."
        )
