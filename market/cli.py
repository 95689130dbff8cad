"""The `market` command."""

import asyncio
import os
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from market.config import get_settings
from market.identity.cli import identity_app

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
municipalities_app = typer.Typer(help="Municipalities: set up and list.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(vouchers_app, name="vouchers")
app.add_typer(municipalities_app, name="municipalities")
app.add_typer(identity_app, name="identity")
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
        log_config=logging_config(get_settings()),
        **uvicorn_options(),
    )


def uvicorn_options() -> dict[str, Any]:
    """How the bundled server runs: it trusts X-Forwarded-* from the proxy in front
    (so rate limits see the client's address) and names no server in its answers."""
    return {"proxy_headers": True, "server_header": False}


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
    if identity_provider:
        from market.identity import demo as identity_demo

        typer.echo("")
        for line in identity_demo.start(settings):
            typer.echo(line)
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


@users_app.command("invite")
def users_invite(
    email: str,
    role: Annotated[
        str,
        typer.Option(
            help="case_worker, municipal_admin, auditor (with --municipality-code) or "
            "provider_staff, provider_admin (with --provider-cvr)"
        ),
    ],
    municipality_code: Annotated[str | None, typer.Option()] = None,
    provider_cvr: Annotated[str | None, typer.Option()] = None,
    full_name: Annotated[str, typer.Option(help="The person can correct it.")] = "",
) -> None:
    """Invite a person by e-mail (e.g. a new municipality's first administrator).
    The link works once, for MARKET_INVITATION_VALID_HOURS; it is also printed,
    for when e-mail is not set up yet."""
    from market import admin_tasks

    try:
        link, emailed = run(
            admin_tasks.invite_user(
                get_settings(),
                email=email,
                role=role,
                full_name=full_name,
                municipality_code=municipality_code,
                provider_cvr=provider_cvr,
            )
        )
    except admin_tasks.TaskError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    typer.echo(
        f"Invited <{email}> as {role}." + (" The invitation is e-mailed." if emailed else "")
    )
    typer.echo(f"Invitation link (works once): {link}")


def _caps(values: list[str]) -> dict[int, int]:
    from market.errors import AppError
    from market.money import parse_kroner

    caps: dict[int, int] = {}
    for value in values:
        year, _, amount = value.partition("=")
        try:
            if not year.strip().isdigit():
                raise ValueError
            caps[int(year)] = parse_kroner(amount)
        except (ValueError, AppError) as exc:
            typer.echo(
                f"Error: --cap {value!r}: write it as YEAR=KRONER, e.g. 2026=61,00", err=True
            )
            raise typer.Exit(EXIT_BAD_INPUT) from exc
    return caps


@municipalities_app.command("create")
def municipalities_create(
    code: Annotated[str, typer.Argument(help="The four-digit municipality code, e.g. 0751.")],
    name: Annotated[str, typer.Option(help="e.g. Aarhus Kommune")],
    postal_code: Annotated[list[str], typer.Option(help='Repeat for each: "8000 Aarhus C".')],
    contact_phone: Annotated[str, typer.Option(help="The telephone citizens call.")],
    opening_hours: Annotated[str, typer.Option(help="When it is answered.")],
    oncall_email: Annotated[str, typer.Option(help="Where welfare alerts are e-mailed.")] = "",
    cap: Annotated[
        list[str] | None, typer.Option(help="Co-payment cap per unit, YEAR=KRONER; repeatable.")
    ] = None,
    iban: Annotated[str, typer.Option(help="The account payouts are paid from.")] = "",
    bic: Annotated[str, typer.Option()] = "",
    charge_when_absent: Annotated[
        bool, typer.Option(help="Charge the co-payment when the citizen was not at home.")
    ] = False,
    require_second_factor: Annotated[
        bool, typer.Option(help="Staff must use an authenticator app.")
    ] = True,
) -> None:
    """Set up a municipality (then invite its first admin with `market users invite`)."""
    from market import admin_tasks
    from market.onboarding.service import MunicipalitySetup

    setup = MunicipalitySetup(
        code=code,
        name=name,
        postal_codes_text="\n".join(postal_code),
        contact_phone=contact_phone,
        opening_hours=opening_hours,
        oncall_email=oncall_email,
        require_staff_totp=require_second_factor,
        charge_copayment_when_absent=charge_when_absent,
        copayment_caps=_caps(cap or []),
        payment_iban=iban,
        payment_bic=bic,
    )
    try:
        municipality_id = run(admin_tasks.set_up_municipality(get_settings(), setup))
    except admin_tasks.TaskError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    typer.echo(f"Created municipality {municipality_id}: {code} {name}.")


@municipalities_app.command("list")
def municipalities_list() -> None:
    """Every municipality: code, name, telephone, active staff."""
    from market import admin_tasks

    rows = run(admin_tasks.list_municipalities(get_settings()))
    for code, name, phone, staff in rows:
        typer.echo(f"{code}  {name:<30} {phone:<18} {staff} staff")
    if not rows:
        typer.echo("No municipality is set up yet.")


def _audit_ok(checkpoint: Path | None = None) -> bool:
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
    if not _audit_ok(checkpoint):
        raise typer.Exit(EXIT_PROBLEM_FOUND)


@audit_app.command("checkpoint")
def audit_checkpoint(
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
) -> None:
    """Sign the head of every chain (MARKET_AUDIT_SIGNING_KEY_FILE) for the auditor to keep."""
    import json

    from market import admin_tasks
    from market.audit.keys import AuditKeyError

    try:
        document = run(admin_tasks.audit_checkpoint(get_settings()))
    except AuditKeyError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from exc
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
    if settings.audit_key is None:
        typer.echo(
            "The audit chain is keyed with the secret key: before removing "
            "MARKET_OLD_SECRET_KEYS, add the old key to MARKET_AUDIT_PREVIOUS_KEYS, or the "
            "events written until now can no longer be verified."
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
