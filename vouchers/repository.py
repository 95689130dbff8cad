"""Every query of the vouchers package. Ledger writes are single Core
statements; reads and admin forms use the ORM."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.models import User
from vouchers.models import (
    NO_WEEK,
    AccountKind,
    Citizen,
    CopaymentCap,
    GrantStatus,
    LedgerTransfer,
    LetterCode,
    ProxyIdentity,
    ProxyLink,
    VoucherAccount,
    VoucherGrant,
    WeekClosing,
)

ACCOUNT = VoucherAccount.__table__  # type: ignore[attr-defined]
TRANSFER = LedgerTransfer.__table__  # type: ignore[attr-defined]


# --- ledger ----------------------------------------------------------------


async def get_transfer_by_key(session: AsyncSession, key: str) -> LedgerTransfer | None:
    result = await session.execute(
        select(LedgerTransfer).where(LedgerTransfer.idempotency_key == key)
    )
    return result.scalar_one_or_none()


async def ensure_account(
    session: AsyncSession, grant_id: int, kind: AccountKind, iso_week: str
) -> int:
    """The id of the account, creating it (balance 0) if it does not exist yet.
    INSERT … ON CONFLICT DO NOTHING, so concurrent creators never collide."""
    found = await account_id(session, grant_id, kind, iso_week)
    if found is not None:
        return found
    dialect = session.get_bind().dialect.name
    values = {"grant_id": grant_id, "kind": kind.value, "iso_week": iso_week, "balance": 0}
    if dialect == "postgresql":
        stmt: Any = pg_insert(ACCOUNT).values(**values).on_conflict_do_nothing()
    else:
        stmt = sqlite_insert(ACCOUNT).values(**values).on_conflict_do_nothing()
    await session.execute(stmt)
    created = await account_id(session, grant_id, kind, iso_week)
    assert created is not None
    return created


async def account_id(
    session: AsyncSession, grant_id: int, kind: AccountKind, iso_week: str
) -> int | None:
    result = await session.execute(
        select(ACCOUNT.c.id).where(
            ACCOUNT.c.grant_id == grant_id,
            ACCOUNT.c.kind == kind.value,
            ACCOUNT.c.iso_week == iso_week,
        )
    )
    return result.scalar_one_or_none()


async def balance(session: AsyncSession, grant_id: int, kind: AccountKind, iso_week: str) -> int:
    result = await session.execute(
        select(ACCOUNT.c.balance).where(
            ACCOUNT.c.grant_id == grant_id,
            ACCOUNT.c.kind == kind.value,
            ACCOUNT.c.iso_week == iso_week,
        )
    )
    return result.scalar_one_or_none() or 0


async def debit(session: AsyncSession, account: int, units: int) -> int | None:
    """The one conditional UPDATE that guards every balance: it takes the units
    only if they are there, atomically. Returns the new balance, or None."""
    result = await session.execute(
        update(ACCOUNT)
        .where(ACCOUNT.c.id == account, ACCOUNT.c.balance >= units)
        .values(balance=ACCOUNT.c.balance - units)
        .returning(ACCOUNT.c.balance)
    )
    return result.scalar_one_or_none()


async def credit(session: AsyncSession, account: int, units: int) -> None:
    await session.execute(
        update(ACCOUNT).where(ACCOUNT.c.id == account).values(balance=ACCOUNT.c.balance + units)
    )


async def insert_transfer(session: AsyncSession, values: dict[str, Any]) -> int:
    result = await session.execute(insert(TRANSFER).values(**values).returning(TRANSFER.c.id))
    return result.scalar_one()


async def list_accounts(session: AsyncSession, grant_id: int) -> Sequence[VoucherAccount]:
    result = await session.execute(
        select(VoucherAccount)
        .where(VoucherAccount.grant_id == grant_id)
        .order_by(VoucherAccount.iso_week, VoucherAccount.kind)
        .execution_options(populate_existing=True)
    )
    return result.scalars().all()


async def week_balances(
    session: AsyncSession, grant_ids: Sequence[int], weeks: Sequence[str]
) -> dict[tuple[int, str, str], int]:
    """(grant_id, kind, iso_week) → balance for these grants and weeks."""
    if not grant_ids:
        return {}
    result = await session.execute(
        select(ACCOUNT.c.grant_id, ACCOUNT.c.kind, ACCOUNT.c.iso_week, ACCOUNT.c.balance).where(
            ACCOUNT.c.grant_id.in_(grant_ids), ACCOUNT.c.iso_week.in_(list(weeks))
        )
    )
    return {(r.grant_id, r.kind, r.iso_week): r.balance for r in result}


async def existing_keys(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    if not keys:
        return set()
    result = await session.execute(
        select(TRANSFER.c.idempotency_key).where(TRANSFER.c.idempotency_key.in_(list(keys)))
    )
    return set(result.scalars().all())


async def net_reserved_after(session: AsyncSession, reserved_account: int, after: date) -> int:
    """Units still reserved in this account for delivery days after ``after``."""
    into = await session.execute(
        select(func.coalesce(func.sum(TRANSFER.c.units), 0)).where(
            TRANSFER.c.to_account_id == reserved_account, TRANSFER.c.delivery_on > after
        )
    )
    out = await session.execute(
        select(func.coalesce(func.sum(TRANSFER.c.units), 0)).where(
            TRANSFER.c.from_account_id == reserved_account, TRANSFER.c.delivery_on > after
        )
    )
    return int(into.scalar_one()) - int(out.scalar_one())


@dataclass
class AccountFlow:
    account_id: int
    grant_id: int
    kind: str
    iso_week: str
    balance: int
    incoming: int
    outgoing: int


async def account_flows(session: AsyncSession) -> list[AccountFlow]:
    incoming = (
        select(TRANSFER.c.to_account_id.label("acc"), func.sum(TRANSFER.c.units).label("n"))
        .group_by(TRANSFER.c.to_account_id)
        .subquery()
    )
    outgoing = (
        select(TRANSFER.c.from_account_id.label("acc"), func.sum(TRANSFER.c.units).label("n"))
        .where(TRANSFER.c.from_account_id.is_not(None))
        .group_by(TRANSFER.c.from_account_id)
        .subquery()
    )
    result = await session.execute(
        select(
            ACCOUNT.c.id,
            ACCOUNT.c.grant_id,
            ACCOUNT.c.kind,
            ACCOUNT.c.iso_week,
            ACCOUNT.c.balance,
            func.coalesce(incoming.c.n, 0),
            func.coalesce(outgoing.c.n, 0),
        )
        .outerjoin(incoming, incoming.c.acc == ACCOUNT.c.id)
        .outerjoin(outgoing, outgoing.c.acc == ACCOUNT.c.id)
        .order_by(ACCOUNT.c.id)
    )
    return [AccountFlow(*row) for row in result.all()]


async def issued_per_grant(session: AsyncSession) -> dict[int, int]:
    result = await session.execute(
        select(TRANSFER.c.grant_id, func.sum(TRANSFER.c.units))
        .where(TRANSFER.c.from_account_id.is_(None))
        .group_by(TRANSFER.c.grant_id)
    )
    return {grant_id: int(units) for grant_id, units in result.all()}


async def misdirected_transfers(session: AsyncSession) -> list[tuple[int, str]]:
    """Transfers touching an account of another grant, or issuing into a
    non-granted account: (transfer id, idempotency key)."""
    source = ACCOUNT.alias("source")
    target = ACCOUNT.alias("target")
    result = await session.execute(
        select(TRANSFER.c.id, TRANSFER.c.idempotency_key)
        .join(target, target.c.id == TRANSFER.c.to_account_id)
        .outerjoin(source, source.c.id == TRANSFER.c.from_account_id)
        .where(
            or_(
                target.c.grant_id != TRANSFER.c.grant_id,
                and_(source.c.id.is_not(None), source.c.grant_id != TRANSFER.c.grant_id),
                and_(
                    TRANSFER.c.from_account_id.is_(None),
                    target.c.kind != AccountKind.GRANTED.value,
                ),
            )
        )
    )
    return [(row[0], row[1]) for row in result.all()]


async def count_transfers(session: AsyncSession) -> int:
    result = await session.execute(select(func.count()).select_from(TRANSFER))
    return int(result.scalar_one())


async def grant_ids_with_accounts(session: AsyncSession) -> list[int]:
    result = await session.execute(select(ACCOUNT.c.grant_id).distinct())
    return list(result.scalars().all())


async def granted_balance(session: AsyncSession, grant_id: int) -> int:
    return await balance(session, grant_id, AccountKind.GRANTED, NO_WEEK)


async def transfers_of_grant(session: AsyncSession, grant_id: int) -> Sequence[LedgerTransfer]:
    result = await session.execute(
        select(LedgerTransfer)
        .where(LedgerTransfer.grant_id == grant_id)
        .order_by(LedgerTransfer.id)
    )
    return result.scalars().all()


# --- caps ------------------------------------------------------------------


async def get_cap(session: AsyncSession, municipality_id: int, year: int) -> CopaymentCap | None:
    return await session.get(CopaymentCap, (municipality_id, year), populate_existing=True)


async def put_cap(
    session: AsyncSession, municipality_id: int, year: int, cap_ore: int
) -> CopaymentCap:
    cap = await get_cap(session, municipality_id, year)
    if cap is None:
        cap = CopaymentCap(municipality_id=municipality_id, year=year, cap_ore=cap_ore)
        session.add(cap)
    else:
        cap.cap_ore = cap_ore
    await session.flush()
    return cap


async def list_caps(session: AsyncSession, municipality_id: int) -> Sequence[CopaymentCap]:
    result = await session.execute(
        select(CopaymentCap)
        .where(CopaymentCap.municipality_id == municipality_id)
        .order_by(CopaymentCap.year)
    )
    return result.scalars().all()


# --- citizens --------------------------------------------------------------


async def add(session: AsyncSession, row: Any) -> Any:
    session.add(row)
    await session.flush()
    return row


async def flush(session: AsyncSession) -> None:
    await session.flush()


async def get_citizen(session: AsyncSession, citizen_id: int) -> Citizen | None:
    return await session.get(Citizen, citizen_id)


async def get_citizen_by_user(session: AsyncSession, user_id: int) -> Citizen | None:
    result = await session.execute(select(Citizen).where(Citizen.user_id == user_id))
    return result.scalar_one_or_none()


async def find_citizen_by_cpr_hash(
    session: AsyncSession, municipality_id: int, cpr_hash: str
) -> Citizen | None:
    result = await session.execute(
        select(Citizen).where(
            Citizen.municipality_id == municipality_id, Citizen.cpr_hash == cpr_hash
        )
    )
    return result.scalar_one_or_none()


async def search_citizens(
    session: AsyncSession, municipality_id: int, text: str, limit: int = 50
) -> Sequence[Citizen]:
    query = select(Citizen).where(Citizen.municipality_id == municipality_id)
    if text:
        # autoescape: a % or _ typed in the search is a character, not a wildcard.
        query = query.where(
            or_(
                func.lower(Citizen.full_name).contains(text.lower(), autoescape=True),
                func.lower(Citizen.address).contains(text.lower(), autoescape=True),
                Citizen.postal_code == text,
            )
        )
    result = await session.execute(query.order_by(Citizen.full_name, Citizen.id).limit(limit))
    return result.scalars().all()


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(User.email == email))
    return result.scalar_one_or_none()


async def set_password_hash(session: AsyncSession, user_id: int, password_hash: str) -> None:
    await session.execute(
        update(User).where(User.id == user_id).values(password_hash=password_hash)
    )


# --- grants ----------------------------------------------------------------


async def get_grant(session: AsyncSession, grant_id: int) -> VoucherGrant | None:
    return await session.get(VoucherGrant, grant_id)


async def get_grant_for_update(session: AsyncSession, grant_id: int) -> VoucherGrant | None:
    """Locks the grant's row until the transaction ends (PostgreSQL), so a
    reservation and a revocation of the same grant never interleave. SQLite
    renders no FOR UPDATE; there BEGIN IMMEDIATE already serialises writers."""
    result = await session.execute(
        select(VoucherGrant)
        .where(VoucherGrant.id == grant_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def grants_of_citizen(session: AsyncSession, citizen_id: int) -> Sequence[VoucherGrant]:
    result = await session.execute(
        select(VoucherGrant)
        .where(VoucherGrant.citizen_id == citizen_id)
        .order_by(VoucherGrant.valid_from.desc(), VoucherGrant.id.desc())
    )
    return result.scalars().all()


async def active_grants_overlapping(
    session: AsyncSession, citizen_id: int, service: str, start: date, end: date
) -> Sequence[VoucherGrant]:
    result = await session.execute(
        select(VoucherGrant).where(
            VoucherGrant.citizen_id == citizen_id,
            VoucherGrant.service == service,
            VoucherGrant.status == GrantStatus.ACTIVE,
            VoucherGrant.valid_from <= end,
            VoucherGrant.valid_to >= start,
        )
    )
    return result.scalars().all()


async def active_grant_on(session: AsyncSession, citizen_id: int, day: date) -> VoucherGrant | None:
    result = await session.execute(
        select(VoucherGrant)
        .where(
            VoucherGrant.citizen_id == citizen_id,
            VoucherGrant.status == GrantStatus.ACTIVE,
            VoucherGrant.valid_from <= day,
            VoucherGrant.valid_to >= day,
        )
        .order_by(VoucherGrant.id.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


async def grants_with_weeks_to_close(
    session: AsyncSession, *, this_monday: date, today: date
) -> list[int]:
    """Grants with an ended week not yet closed, or active past their last day."""
    last_sunday = this_monday - timedelta(days=1)
    result = await session.execute(
        select(VoucherGrant.id)
        .outerjoin(WeekClosing, WeekClosing.grant_id == VoucherGrant.id)
        .where(
            or_(
                and_(
                    VoucherGrant.valid_from < this_monday,
                    or_(
                        WeekClosing.closed_through.is_(None),
                        and_(
                            WeekClosing.closed_through < VoucherGrant.valid_to,
                            WeekClosing.closed_through < last_sunday,
                        ),
                    ),
                ),
                and_(VoucherGrant.status == GrantStatus.ACTIVE, VoucherGrant.valid_to < today),
            )
        )
        .order_by(VoucherGrant.id)
    )
    return list(result.scalars().all())


async def closed_through(session: AsyncSession, grant_id: int) -> date | None:
    found = await session.get(WeekClosing, grant_id)
    return found.closed_through if found else None


async def set_closed_through(session: AsyncSession, grant_id: int, day: date) -> None:
    dialect = session.get_bind().dialect.name
    insert_ = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert_(WeekClosing).values(grant_id=grant_id, closed_through=day)
    await session.execute(
        statement.on_conflict_do_update(index_elements=["grant_id"], set_={"closed_through": day})
    )


async def grants_started_before(session: AsyncSession, day: date) -> Sequence[VoucherGrant]:
    result = await session.execute(
        select(VoucherGrant).where(VoucherGrant.valid_from < day).order_by(VoucherGrant.id)
    )
    return result.scalars().all()


# --- proxies ---------------------------------------------------------------


async def proxies_of(session: AsyncSession, citizen_id: int) -> list[tuple[ProxyLink, User]]:
    result = await session.execute(
        select(ProxyLink, User)
        .join(User, User.id == ProxyLink.proxy_user_id)
        .where(ProxyLink.citizen_id == citizen_id)
        .order_by(ProxyLink.created_at, ProxyLink.id)
    )
    return [(link, user) for link, user in result.all()]


async def active_link(
    session: AsyncSession, citizen_id: int, proxy_user_id: int
) -> ProxyLink | None:
    result = await session.execute(
        select(ProxyLink).where(
            ProxyLink.citizen_id == citizen_id,
            ProxyLink.proxy_user_id == proxy_user_id,
            ProxyLink.revoked_at.is_(None),
        )
    )
    return result.scalars().first()


async def proxy_by_cpr_hash(session: AsyncSession, cpr_hash: str) -> ProxyIdentity | None:
    result = await session.execute(select(ProxyIdentity).where(ProxyIdentity.cpr_hash == cpr_hash))
    return result.scalar_one_or_none()


async def proxy_identity_of(session: AsyncSession, user_id: int) -> ProxyIdentity | None:
    result = await session.execute(select(ProxyIdentity).where(ProxyIdentity.user_id == user_id))
    return result.scalar_one_or_none()


async def delete_proxy_identity(session: AsyncSession, row_id: int) -> None:
    await session.execute(delete(ProxyIdentity).where(ProxyIdentity.id == row_id))


async def get_link(session: AsyncSession, link_id: int) -> ProxyLink | None:
    return await session.get(ProxyLink, link_id)


async def citizens_of_proxy(session: AsyncSession, proxy_user_id: int) -> Sequence[Citizen]:
    result = await session.execute(
        select(Citizen)
        .join(ProxyLink, ProxyLink.citizen_id == Citizen.id)
        .where(ProxyLink.proxy_user_id == proxy_user_id, ProxyLink.revoked_at.is_(None))
        .order_by(Citizen.full_name)
    )
    return result.scalars().all()


# --- letter codes ------------------------------------------------------------


async def find_letter_code(session: AsyncSession, code_hash: str) -> LetterCode | None:
    result = await session.execute(select(LetterCode).where(LetterCode.code_hash == code_hash))
    return result.scalar_one_or_none()


async def open_letter_code(session: AsyncSession, user_id: int, now: datetime) -> LetterCode | None:
    result = await session.execute(
        select(LetterCode)
        .where(
            LetterCode.user_id == user_id,
            LetterCode.used_at.is_(None),
            LetterCode.replaced_at.is_(None),
            LetterCode.expires_at > now,
        )
        .order_by(LetterCode.id.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


async def replace_open_codes(session: AsyncSession, user_id: int, now: datetime) -> None:
    await session.execute(
        update(LetterCode)
        .where(
            LetterCode.user_id == user_id,
            LetterCode.used_at.is_(None),
            LetterCode.replaced_at.is_(None),
        )
        .values(replaced_at=now)
    )


async def mark_code_used(session: AsyncSession, code_id: int, now: datetime) -> bool:
    """Single use even under concurrency: only one caller's UPDATE matches."""
    result = await session.execute(
        update(LetterCode)
        .where(LetterCode.id == code_id, LetterCode.used_at.is_(None))
        .values(used_at=now)
        .returning(LetterCode.id)
    )
    return result.scalar_one_or_none() is not None


# --- batch look-ups for the ordering flow (kitchen lists, alert queue) ---


async def citizens_by_ids(session: AsyncSession, citizen_ids: Sequence[int]) -> dict[int, Citizen]:
    if not citizen_ids:
        return {}
    result = await session.execute(select(Citizen).where(Citizen.id.in_(set(citizen_ids))))
    return {c.id: c for c in result.scalars().all() if c.id is not None}


async def grants_by_ids(session: AsyncSession, grant_ids: Sequence[int]) -> dict[int, VoucherGrant]:
    if not grant_ids:
        return {}
    result = await session.execute(select(VoucherGrant).where(VoucherGrant.id.in_(set(grant_ids))))
    return {g.id: g for g in result.scalars().all() if g.id is not None}
