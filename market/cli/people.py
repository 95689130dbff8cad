"""User accounts and municipalities."""

from typing import Annotated

import typer

from market.cli.common import EXIT_BAD_INPUT, refused, run
from market.config import get_settings

users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
municipalities_app = typer.Typer(help="Municipalities: set up and list.", no_args_is_help=True)


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

    with refused(admin_tasks.TaskError):
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

    with refused(admin_tasks.TaskError):
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
    with refused(admin_tasks.TaskError):
        municipality_id = run(admin_tasks.set_up_municipality(get_settings(), setup))
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
