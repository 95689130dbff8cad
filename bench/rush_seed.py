"""The order rush's region, bulk-loaded on PostgreSQL after the real migrations:
one municipality, ``citizens`` citizens each signed in (a session row) with an
active voucher grant whose units are issued in the ledger exactly as
``vouchers.ledger.service.issue_units`` issues them (a granted account holding
the total and one ``issue:<grant>`` transfer), and ``providers`` approved
providers (contract terms, an offer every weekday, delivering to every postal
code of the region, a large daily capacity).

Ids are laid out so a citizen's number n gives every id the order path reads:
citizen, grant, granted account and issue transfer n, user n + USER_OFFSET,
session token ``session_token(secret, n)``. The week allotments are left to
the order path (``ensure_week_allotted`` runs on a week's first order), as in
production."""

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench.common import move_sequences_past_loaded_rows, pg_connect
from bench.month_end import PROVIDER_ROWS
from vouchers.ledger.weeks import total_units

USER_OFFSET = 100  # users 1..99: the municipality's staff
POSTAL_CODES = ("8000", "8200", "8210", "8220", "8230", "8240", "8250", "8260", "8270", "8000")
UNITS_PER_WEEK = 14  # two meals a day: room for every order a run places
GRANT_WEEKS = 8
COPAYMENT_ORE = 6000
DAILY_CAPACITY = 1_000_000

BASE = """
INSERT INTO municipality (id, code, name, require_staff_totp, created_at)
    VALUES (1, '0751', 'Aarhus Kommune', FALSE, '2020-01-01 00:00:00');
INSERT INTO app_user (id, email, full_name, role, municipality_id, is_active, totp_enabled,
    failed_login_count, created_at) VALUES
    (1, 'admin@aarhus.dk', 'Anna Admin', 'municipal_admin', 1, TRUE, FALSE, 0,
     '2020-01-01 00:00:00');
INSERT INTO quality_standard (id, municipality_id, service, version, title, status, created_at)
    VALUES (1, 1, 'madservice', 1, 'Kvalitetsstandard', 'published', '2020-01-01 00:00:00');
"""

# Tables whose id sequence the bulk load passed by; set past the loaded ids.
SEQUENCED = ("municipality", "app_user", "citizen", "voucher_grant", "voucher_account",
             "ledger_transfer", "user_session", "quality_standard", "provider",
             "provider_application", "approval", "offer")  # fmt: skip


def settings_of(env: dict[str, str]) -> Any:
    """The app's Settings from MARKET_* variables, without touching os.environ."""
    from market.config import Settings

    return Settings.model_validate({k.removeprefix("MARKET_").lower(): v for k, v in env.items()})


def session_token(secret: str, n: int) -> str:
    """Citizen n's session cookie: derived, so the load processes need no list."""
    return hashlib.sha256(f"{secret}:{n}".encode()).hexdigest()


def token_hash(token: str) -> str:
    """As market.crypto.token_hash stores it."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Region:
    citizens: int
    providers: int
    grant_from: date  # the Monday of this week
    grant_to: date

    @property
    def units_issued(self) -> int:
        return total_units(UNITS_PER_WEEK, self.grant_from, self.grant_to)


def region(citizens: int, providers: int, today: date) -> Region:
    monday = today - timedelta(days=today.weekday())
    return Region(citizens, providers, monday, monday + timedelta(weeks=GRANT_WEEKS, days=-1))


def _provider_sql(providers: int, first: int) -> str:
    rows = [
        line.format(p=p, cvr=f"{10000000 + p % 80000000:08d}", minimum=0, threshold=1_000_000)
        for p in range(first, first + providers)
        for line in PROVIDER_ROWS
    ]
    rows.append(
        f"UPDATE approval SET daily_capacity = {DAILY_CAPACITY};"
        ' UPDATE offer SET diet_forms = \'["normal", "soft"]\', allergens = \'["milk"]\','
        " name = 'Frikadeller med kartofler', description = 'Hjemmelavede frikadeller';"
    )
    return "\n".join(rows)


async def seed(
    url: str, reg: Region, secret: str, *, first_citizen: int = 1, first_provider: int = 1
) -> None:
    """Loads the region with COPY; a few seconds for 20,000 citizens. Citizens are
    numbered from ``first_citizen``, providers from ``first_provider``."""
    now = datetime.now(UTC)
    expires = now + timedelta(days=2)
    created = datetime(2020, 1, 1, tzinfo=UTC)
    issued = reg.units_issued
    n_range = range(first_citizen, first_citizen + reg.citizens)
    p_range = range(first_provider, first_provider + reg.providers)
    conn = await pg_connect(url)
    try:
        async with conn.transaction():
            await conn.execute(BASE)
            await conn.execute(_provider_sql(reg.providers, first_provider))
            await conn.copy_records_to_table(
                "approval_postal_code",
                records=[
                    (p, code) for p in p_range for code in sorted(set(POSTAL_CODES))
                ],  # fmt: skip
                columns=["approval_id", "postal_code"],
            )
            await conn.copy_records_to_table(
                "app_user",
                records=[
                    (
                        n + USER_OFFSET,
                        f"borger{n}@example.dk",
                        f"Borger {n}",
                        "citizen",
                        1,
                        True,
                        False,
                        0,
                        created,
                    )  # fmt: skip
                    for n in n_range
                ],
                columns=[
                    "id",
                    "email",
                    "full_name",
                    "role",
                    "municipality_id",
                    "is_active",
                    "totp_enabled",
                    "failed_login_count",
                    "created_at",
                ],  # fmt: skip
            )
            await conn.copy_records_to_table(
                "citizen",
                records=[
                    (
                        n,
                        1,
                        n + USER_OFFSET,
                        f"Borger {n}",
                        "x",
                        f"bench-cpr-{n}",
                        date(1940, 1, 1),
                        f"Vej {n}",
                        POSTAL_CODES[n % len(POSTAL_CODES)],
                        "da",
                        "normal",
                        "",
                        "[]",
                        created,
                    )  # fmt: skip
                    for n in n_range
                ],
                columns=[
                    "id",
                    "municipality_id",
                    "user_id",
                    "full_name",
                    "cpr_encrypted",
                    "cpr_hash",
                    "birth_date",
                    "address",
                    "postal_code",
                    "language",
                    "diet_form",
                    "diet_notes",
                    "allergies",
                    "created_at",
                ],  # fmt: skip
            )
            await conn.copy_records_to_table(
                "voucher_grant",
                records=[
                    (
                        n,
                        1,
                        n,
                        "main_meal",
                        UNITS_PER_WEEK,
                        "normal",
                        "[]",
                        reg.grant_from,
                        reg.grant_to,
                        COPAYMENT_ORE,
                        False,
                        "active",
                        1,
                        created,
                    )  # fmt: skip
                    for n in n_range
                ],
                columns=[
                    "id",
                    "municipality_id",
                    "citizen_id",
                    "service",
                    "units_per_week",
                    "diet_form",
                    "allergies",
                    "valid_from",
                    "valid_to",
                    "copayment_ore",
                    "rollover",
                    "status",
                    "created_by_user_id",
                    "created_at",
                ],  # fmt: skip
            )
            # issue_units: the grant's whole validity into its granted account, once.
            await conn.copy_records_to_table(
                "voucher_account",
                records=[(n, n, "granted", "", issued) for n in n_range],
                columns=["id", "grant_id", "kind", "iso_week", "balance"],
            )
            await conn.copy_records_to_table(
                "ledger_transfer",
                records=[
                    (n, f"issue:{n}", n, None, n, issued, "issue", None, None, created, 1)
                    for n in n_range
                ],
                columns=[
                    "id",
                    "idempotency_key",
                    "grant_id",
                    "from_account_id",
                    "to_account_id",
                    "units",
                    "reason",
                    "order_ref",
                    "delivery_on",
                    "created_at",
                    "actor_user_id",
                ],  # fmt: skip
            )
            await conn.copy_records_to_table(
                "user_session",
                records=[
                    (
                        n,
                        token_hash(session_token(secret, n)),
                        n + USER_OFFSET,
                        False,
                        now,
                        expires,
                    )  # fmt: skip
                    for n in n_range
                ],
                columns=[
                    "id",
                    "token_hash",
                    "user_id",
                    "second_factor_pending",
                    "created_at",
                    "expires_at",
                ],  # fmt: skip
            )
            await move_sequences_past_loaded_rows(conn, SEQUENCED)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def open_audit_chain(settings_env: dict[str, str]) -> None:
    """The municipality's first audit event, written by the real audit service, as
    a municipality that has been running has one, so the rush measures a running
    chain. (The race of a new chain's first events for its head row, which this
    benchmark found, is fixed in ``market.audit.repository.advance_head``.)"""
    from market.admin_tasks import unit_of_work
    from market.audit import service as audit
    from market.audit.keys import using_keys
    from market.auth.models import Role
    from market.auth.permissions import Actor

    settings = settings_of(settings_env)
    admin = Actor(user_id=1, role=Role.MUNICIPAL_ADMIN, full_name="Anna Admin", municipality_id=1)
    with using_keys(settings):
        async with unit_of_work(settings) as session:
            await audit.record(
                session,
                actor=admin,
                action="bench.region_seeded",
                entity_type="municipality",
                entity_id=1,
                municipality_id=1,
            )
