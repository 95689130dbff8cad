"""Verifying the audit chain and the voucher ledger; signing checkpoints."""

from pathlib import Path
from typing import Annotated

import typer

from market.cli.common import EXIT_BAD_INPUT, EXIT_PROBLEM_FOUND, refused, run
from market.config import get_settings

audit_app = typer.Typer(help="The audit chain.", no_args_is_help=True)
vouchers_app = typer.Typer(help="Voucher grants and the voucher ledger.", no_args_is_help=True)


def audit_ok(checkpoint: Path | None = None) -> bool:
    from market import admin_tasks
    from market.audit.checkpoints import CheckpointRefused
    from market.audit.keys import AuditKeyError

    try:
        text = checkpoint.read_text() if checkpoint else None
        report, heads = run(admin_tasks.verify_audit(get_settings(), checkpoint_text=text))
    except (CheckpointRefused, AuditKeyError, OSError, UnicodeDecodeError) as exc:
        typer.echo(f"Checkpoint refused: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    for chain in report.chains:
        if chain.ok:
            typer.echo(f"ok      {chain.chain}: {chain.events} events")
        else:
            typer.echo(f"BROKEN  {chain.chain} at event {chain.broken_at_seq}: {chain.problem}")
    for head in heads:
        if head.ok:
            typer.echo(f"ok      {head.chain}: event {head.seq} as signed at {head.signed_at}")
        else:
            typer.echo(f"REWRITTEN {head.chain}: {head.problem}")
    ok = report.ok and all(head.ok for head in heads)
    if ok:
        typer.echo("The audit chain is intact.")
    return ok


@audit_app.command("verify")
def audit_verify(
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            help="A signed checkpoint file: also prove each head it recorded is unchanged."
        ),
    ] = None,
) -> None:
    """Check every audit chain; names the first broken link and exits 1 if any."""
    if not audit_ok(checkpoint):
        raise typer.Exit(EXIT_PROBLEM_FOUND)


@audit_app.command("checkpoint")
def audit_checkpoint(
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
) -> None:
    """Sign the head of every chain (MARKET_AUDIT_SIGNING_KEY_FILE) for the auditor to keep."""
    import json

    from market import admin_tasks
    from market.audit.keys import AuditKeyError

    with refused(AuditKeyError):
        document = run(admin_tasks.audit_checkpoint(get_settings()))
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text)
        typer.echo(f"Checkpoint of {len(document['entries'])} chains written to {out}.", err=True)


@audit_app.command("keygen")
def audit_keygen(
    out: Annotated[Path, typer.Option(help="Where to write the private key (never overwritten).")],
) -> None:
    """Make an Ed25519 key for signing checkpoints; keep it outside the database and its backups."""
    from market.audit import keys

    try:
        public_key = keys.new_signing_key(out)
    except FileExistsError as exc:
        typer.echo(f"Error: {out} exists; a signing key is never overwritten.", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    public_file = out.with_name(out.name + ".pub")
    public_file.write_bytes(keys.public_key_pem(public_key))
    typer.echo(f"Signing key written to {out} (key id {keys.public_key_id(public_key)}).")
    typer.echo(
        f"Its public key, for the auditor and MARKET_AUDIT_TRUSTED_PUBLIC_KEYS: {public_file}"
    )


def vouchers_ok() -> bool:
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
    if not vouchers_ok():
        raise typer.Exit(EXIT_PROBLEM_FOUND)
