"""Running a month's settlement from the command line."""

from typing import Annotated

import typer

from market.cli.common import refused, run
from market.config import get_settings

settlement_app = typer.Typer()


@settlement_app.command()
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

    with refused(TaskError, AppError):
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            transient=True,
        ) as progress:
            view = run(settle_month(progress))
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
