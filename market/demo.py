"""Demo data: two municipalities, staff for every role, and (from each domain's
own demo module) providers and citizens in every state."""

from pathlib import Path

from sqlalchemy.engine import make_url

from market.admin_tasks import unit_of_work
from market.auth import service as auth_service
from market.auth.models import Role
from market.config import Settings
from market.municipalities import service as municipalities

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


async def seed(settings: Settings) -> list[tuple[str, str]]:
    """Returns (who, e-mail) for every demo login."""
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
        users = {}
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
        logins += await provider_demo.seed(
            session,
            municipalities=[aarhus, odense],
            users=users,
            password=DEMO_PASSWORD,
            settings=settings,
        )
        logins += await voucher_demo.seed(
            session,
            municipalities=[aarhus, odense],
            users=users,
            password=DEMO_PASSWORD,
            settings=settings,
        )
        logins += await order_demo.seed(
            session,
            municipalities=[aarhus, odense],
            users=users,
            password=DEMO_PASSWORD,
            settings=settings,
        )
        # The weekly job, last: the order history above is placed in past weeks.
        await voucher_service.close_past_weeks(
            session, actor=auth_service.actor_for(users["sagsbehandler@aarhus.example"])
        )
        logins += await settlement_demo.seed(
            session,
            municipalities=[aarhus, odense],
            users=users,
            password=DEMO_PASSWORD,
            settings=settings,
        )
        logins += await payout_demo.seed(session, users=users)
        logins += await finance_demo.seed(session, municipalities_=[aarhus, odense])
        earlier, _ = settlement_demo.past_months()
        logins += await copayment_demo.seed(session, users=users, month_on=earlier)
    return logins
