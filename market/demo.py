"""Demo data: two municipalities, staff for every role, and (from each domain's
own demo module) providers and citizens in every state."""

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncSession

from market.admin_tasks import TaskError, unit_of_work
from market.auth import service as auth_service
from market.auth.models import Role, User
from market.config import Settings
from market.db import create_engine
from market.municipalities import service as municipalities
from market.municipalities.models import Municipality

DEMO_PASSWORD = "demo-password-2026"

AARHUS_POSTAL_CODES = {
    "8000": "Aarhus C",
    "8200": "Aarhus N",
    "8210": "Aarhus V",
    "8220": "Brabrand",
    "8230": "Åbyhøj",
    "8240": "Risskov",
    "8260": "Viby J",
    "8270": "Højbjerg",
}
ODENSE_POSTAL_CODES = {
    "5000": "Odense C",
    "5200": "Odense V",
    "5210": "Odense NV",
    "5220": "Odense SØ",
    "5230": "Odense M",
    "5240": "Odense NØ",
    "5250": "Odense SV",
}


def remove_sqlite_file(database_url: str) -> None:
    database = make_url(database_url).database
    if database and database != ":memory:":
        for suffix in ("", "-wal", "-shm"):
            Path(database + suffix).unlink(missing_ok=True)


# The demo's own first login: a database holding it was seeded by the demo.
DEMO_MARKER_EMAIL = "admin@aarhus.example"
SEED_STEPS = 9


async def reset_postgresql(settings: Settings) -> None:
    """Lets `market demo` run again on PostgreSQL: an empty database is used as
    it is, an earlier demo's tables are dropped, anything else is refused."""
    from sqlmodel import SQLModel

    from market.models_registry import import_all_models

    import_all_models()
    engine = create_engine(settings)

    def what_is_there(connection: Connection) -> str:
        if not inspect(connection).has_table("app_user"):
            return "empty"
        users = connection.execute(text("SELECT email FROM app_user")).scalars().all()
        if not users:
            return "empty"
        return "demo" if DEMO_MARKER_EMAIL in users else "other"

    def drop_everything(connection: Connection) -> None:
        SQLModel.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))

    try:
        async with engine.begin() as connection:
            found = await connection.run_sync(what_is_there)
            if found == "other" or (found == "demo" and settings.environment == "production"):
                raise TaskError(
                    "The database holds data the demo did not seed; market demo only seeds an "
                    "empty database or replaces its own earlier demo (never in production)."
                )
            if found == "demo":
                await connection.run_sync(drop_everything)
    finally:
        await engine.dispose()


async def _municipalities(session: AsyncSession) -> tuple[Municipality, Municipality]:
    """Aarhus and Odense."""
    aarhus = await municipalities.create(
        session,
        code="0751",
        name="Aarhus Kommune",
        postal_codes=AARHUS_POSTAL_CODES,
        oncall_email="vagt@aarhus.example",
        contact_phone="+45 89 40 20 00",
        opening_hours="Hverdage 8–15",
    )
    odense = await municipalities.create(
        session,
        code="0461",
        name="Odense Kommune",
        postal_codes=ODENSE_POSTAL_CODES,
        oncall_email="vagt@odense.example",
        contact_phone="+45 66 13 13 72",
        opening_hours="Hverdage 9–14",
    )
    return aarhus, odense


async def _staff(
    session: AsyncSession,
    *,
    aarhus: Municipality,
    odense: Municipality,
    logins: list[tuple[str, str]],
) -> dict[str, User]:
    """The platform's and the municipalities' staff, by e-mail; each login is
    added to ``logins``."""
    staff = [
        (
            "platform admin",
            "platform@velfaerd.example",
            "Pia Platform",
            Role.PLATFORM_ADMIN,
            None,
        ),
        (
            "municipal admin, Aarhus",
            "admin@aarhus.example",
            "Anders Admin",
            Role.MUNICIPAL_ADMIN,
            aarhus.id,
        ),
        (
            "second admin (four eyes), Aarhus",
            "admin2@aarhus.example",
            "Bente Bech",
            Role.MUNICIPAL_ADMIN,
            aarhus.id,
        ),
        (
            "case worker, Aarhus",
            "sagsbehandler@aarhus.example",
            "Susanne Sagsbehandler",
            Role.CASE_WORKER,
            aarhus.id,
        ),
        (
            "auditor, Aarhus",
            "revisor@aarhus.example",
            "Rasmus Revisor",
            Role.AUDITOR,
            aarhus.id,
        ),
        (
            "municipal admin, Odense",
            "admin@odense.example",
            "Ole Odense",
            Role.MUNICIPAL_ADMIN,
            odense.id,
        ),
        (
            "case worker, Odense",
            "sagsbehandler@odense.example",
            "Olga Omsorg",
            Role.CASE_WORKER,
            odense.id,
        ),
    ]
    users: dict[str, User] = {}
    for who, email, name, role, municipality_id in staff:
        users[email] = await auth_service.create_user(
            session,
            actor=None,
            email=email,
            full_name=name,
            password=DEMO_PASSWORD,
            role=role,
            municipality_id=municipality_id,
        )
        logins.append((who, email))
    return users


async def seed(
    settings: Settings, progress: Callable[[str], None] | None = None
) -> list[tuple[str, str]]:
    """Returns (who, e-mail) for every demo login. ``progress`` hears each step's
    name as it starts (SEED_STEPS of them), for the command line's progress bar."""
    step = progress or (lambda _name: None)
    from market.community import demo as community_demo
    from market.copayments import demo as copayment_demo
    from market.finance import demo as finance_demo
    from market.orders import demo as order_demo
    from market.payouts import demo as payout_demo
    from market.settlement import demo as settlement_demo
    from providers import demo as provider_demo
    from vouchers import demo as voucher_demo
    from vouchers import service as voucher_service

    logins: list[tuple[str, str]] = []
    async with unit_of_work(settings) as session:
        step("municipalities and staff")
        aarhus, odense = await _municipalities(session)
        users = await _staff(session, aarhus=aarhus, odense=odense, logins=logins)
        step("providers")
        logins += await provider_demo.seed(
            session,
            municipalities=[aarhus, odense],
            users=users,
            password=DEMO_PASSWORD,
            settings=settings,
        )
        step("citizens and vouchers")
        logins += await voucher_demo.seed(
            session,
            municipalities=[aarhus, odense],
            users=users,
            password=DEMO_PASSWORD,
            settings=settings,
        )
        step("orders")
        logins += await order_demo.seed(
            session,
            municipalities=[aarhus, odense],
            users=users,
            password=DEMO_PASSWORD,
            settings=settings,
        )
        step("closing past voucher weeks")
        # The weekly job, last: the order history above is placed in past weeks.
        await voucher_service.close_past_weeks(
            session, actor=auth_service.actor_for(users["sagsbehandler@aarhus.example"])
        )
        step("settlement")
        logins += await settlement_demo.seed(
            session,
            municipalities=[aarhus, odense],
            users=users,
            password=DEMO_PASSWORD,
            settings=settings,
        )
        step("payouts")
        logins += await payout_demo.seed(session, users=users)
        logins += await finance_demo.seed(session, municipalities_=[aarhus, odense])
        step("co-payment statements")
        earlier, _ = settlement_demo.past_months()
        logins += await copayment_demo.seed(session, users=users, month_on=earlier)
        step("associations and volunteers")
        logins += await community_demo.seed(
            session,
            municipalities=[aarhus, odense],
            users=users,
            password=DEMO_PASSWORD,
            settings=settings,
        )
    return logins
