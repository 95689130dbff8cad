"""Queries of the vouchers ledger."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped
from sqlmodel import col

from vouchers.models import (
    NO_WEEK,
    AccountKind,
    LedgerTransfer,
    VoucherAccount,
)

ACCOUNT = VoucherAccount.__table__  # type: ignore[attr-defined]
TRANSFER = LedgerTransfer.__table__  # type: ignore[attr-defined]


# --- ledger ----------------------------------------------------------------


async def get_transfer_by_key(session: AsyncSession, key: str) -> LedgerTransfer | None:
    result = await session.execute(
        select(LedgerTransfer).where(col(LedgerTransfer.idempotency_key) == key)
    )
    return result.scalar_one_or_none()


async def get_transfers_by_keys(
    session: AsyncSession, keys: Sequence[str]
) -> dict[str, LedgerTransfer]:
    """The transfers made under any of these keys, by key: one look-up for the
    replay checks of a reservation and the week's allotment before it."""
    result = await session.execute(
        select(LedgerTransfer).where(col(LedgerTransfer.idempotency_key).in_(list(keys)))
    )
    return {t.idempotency_key: t for t in result.scalars().all()}


async def _account_ids(
    session: AsyncSession, grant_id: int, wanted: Sequence[tuple[AccountKind, str]]
) -> dict[tuple[str, str], int]:
    result = await session.execute(
        select(ACCOUNT.c.id, ACCOUNT.c.kind, ACCOUNT.c.iso_week).where(
            ACCOUNT.c.grant_id == grant_id,
            tuple_(ACCOUNT.c.kind, ACCOUNT.c.iso_week).in_([(k.value, w) for k, w in wanted]),
        )
    )
    return {(str(kind), str(week)): int(id_) for id_, kind, week in result.all()}


async def ensure_accounts(
    session: AsyncSession,
    grant_id: int,
    wanted: Sequence[tuple[AccountKind, str]],
    *,
    known: dict[tuple[AccountKind, str], int] | None = None,
) -> list[int]:
    """The ids of these accounts of a grant, in the order asked, creating the
    missing ones (balance 0) with one INSERT … ON CONFLICT DO NOTHING: one
    statement when they all exist, two when some are new. ``known``: the ids the
    caller has read in this transaction; the others are then taken as missing
    (no look-up first), and read back if another transaction made them."""
    keys = [(kind.value, week) for kind, week in wanted]
    if known is None:
        found = await _account_ids(session, grant_id, wanted)
    else:
        found = {(kind.value, week): id_ for (kind, week), id_ in known.items()}
    missing = [key for key in dict.fromkeys(keys) if key not in found]
    if missing:
        rows = [
            {"grant_id": grant_id, "kind": kind, "iso_week": week, "balance": 0}
            for kind, week in missing
        ]
        dialect = session.get_bind().dialect.name
        insert_of: Any = pg_insert if dialect == "postgresql" else sqlite_insert
        created = await session.execute(
            insert_of(ACCOUNT)
            .values(rows)
            .on_conflict_do_nothing()
            .returning(ACCOUNT.c.id, ACCOUNT.c.kind, ACCOUNT.c.iso_week)
        )
        found |= {(str(kind), str(week)): int(id_) for id_, kind, week in created.all()}
        if any(key not in found for key in missing):
            # Another transaction created one meanwhile: read what it made.
            found = await _account_ids(session, grant_id, wanted)
    return [found[key] for key in keys]


async def move_units(session: AsyncSession, source: int | None, target: int, units: int) -> bool:
    """Debits ``source`` and credits ``target`` in one UPDATE. The debit is
    conditional (``balance >= units``), so no balance goes below zero; False
    when the source has too few units (the caller undoes the credit by rolling
    back its savepoint)."""
    if source is None:
        await session.execute(
            update(ACCOUNT).where(ACCOUNT.c.id == target).values(balance=ACCOUNT.c.balance + units)
        )
        return True
    result = await session.execute(
        update(ACCOUNT)
        .where(
            ACCOUNT.c.id.in_([source, target]),
            or_(ACCOUNT.c.id == target, ACCOUNT.c.balance >= units),
        )
        .values(balance=ACCOUNT.c.balance + case((ACCOUNT.c.id == target, units), else_=-units))
        .returning(ACCOUNT.c.id)
    )
    return source in set(result.scalars().all())


def _undo_move(source: int | None, target: int, units: int) -> Any:
    """The exact inverse of a move this transaction has just made (its rows stay
    locked by it until the end, so nothing came in between)."""
    if source is None:
        return (
            update(ACCOUNT).where(ACCOUNT.c.id == target).values(balance=ACCOUNT.c.balance - units)
        )
    return (
        update(ACCOUNT)
        .where(ACCOUNT.c.id.in_([source, target]))
        .values(balance=ACCOUNT.c.balance + case((ACCOUNT.c.id == target, -units), else_=units))
    )


async def write_transfer(
    session: AsyncSession,
    values: dict[str, Any],
    *,
    source: int | None,
    target: int,
    units: int,
) -> tuple[bool, int | None]:
    """A transfer written whole or not at all, without a savepoint: the debit
    (conditional, ``balance >= units``), the credit and the transfer's row.
    ``(False, None)``: the source has too few units, nothing was written.
    ``(True, None)``: another transfer holds the key; the move was undone, the
    caller replays. ``(True, id)``: done.

    PostgreSQL: one statement, the credit and the row depending on the debit's
    RETURNING (a data-modifying CTE each), so a refused debit writes nothing even
    under concurrency. SQLite (no such CTEs; BEGIN IMMEDIATE serialises writers):
    one UPDATE of both accounts, conditional on the source's balance, then the
    row."""
    if session.get_bind().dialect.name == "postgresql":
        cols = list(values)
        row_values = [literal(values[name], type_=TRANSFER.c[name].type) for name in cols]
        credit_where: list[ColumnElement[bool]] = [ACCOUNT.c.id == target]
        if source is not None:
            debit = (
                update(ACCOUNT)
                .where(ACCOUNT.c.id == source, ACCOUNT.c.balance >= units)
                .values(balance=ACCOUNT.c.balance - units)
                .returning(ACCOUNT.c.id)
                .cte("debit")
            )
            credit_where.append(exists(select(debit.c.id)))
        credit = (
            update(ACCOUNT)
            .where(*credit_where)
            .values(balance=ACCOUNT.c.balance + units)
            .returning(ACCOUNT.c.id)
            .cte("credit")
        )
        row = pg_insert(TRANSFER).from_select(
            cols, select(*row_values).where(exists(select(credit.c.id)))
        )
        written = (
            row.on_conflict_do_nothing(index_elements=[TRANSFER.c.idempotency_key])
            .returning(TRANSFER.c.id)
            .cte("written")
        )
        result = await session.execute(
            select(
                select(credit.c.id).scalar_subquery().label("credited"),
                select(written.c.id).scalar_subquery().label("transfer_id"),
            )
        )
        credited, transfer_id = result.one()
        if credited is None:
            return False, None
        if transfer_id is None:
            await session.execute(_undo_move(source, target, units))
            return True, None
        return True, int(transfer_id)
    if source is None:
        await session.execute(
            update(ACCOUNT).where(ACCOUNT.c.id == target).values(balance=ACCOUNT.c.balance + units)
        )
    else:
        source_row = ACCOUNT.alias("source")
        enough = select(source_row.c.balance).where(source_row.c.id == source).scalar_subquery()
        moved = await session.execute(
            update(ACCOUNT)
            .where(ACCOUNT.c.id.in_([source, target]), enough >= units)
            .values(balance=ACCOUNT.c.balance + case((ACCOUNT.c.id == target, units), else_=-units))
            .returning(ACCOUNT.c.id)
        )
        changed = set(moved.scalars().all())
        if changed != {source, target}:
            if changed:  # never expected: put back what moved
                await session.execute(
                    update(ACCOUNT)
                    .where(ACCOUNT.c.id.in_(changed))
                    .values(
                        balance=ACCOUNT.c.balance
                        + case((ACCOUNT.c.id == target, -units), else_=units)
                    )
                )
            return False, None
    result = await session.execute(
        sqlite_insert(TRANSFER)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[TRANSFER.c.idempotency_key])
        .returning(TRANSFER.c.id)
    )
    transfer_id = result.scalar_one_or_none()
    if transfer_id is None:
        await session.execute(_undo_move(source, target, units))
        return True, None
    return True, int(transfer_id)


def reservation_lookups(grant_id: ColumnElement[Any] | Mapped[Any]) -> dict[str, ScalarSelect[Any]]:
    """What a reservation needs to know of the ledger, as scalar subqueries on a
    grant's id column, for a caller to put into its own read of the grant (the
    order path reads everything it needs in one statement): the transfer
    already made under the reservation's key, whether the week is allotted, and
    the ids of the accounts the reservation touches. Parameters (bound, so the
    statement is built once): ``reservation_lookup_params``."""
    week = bindparam("ledger_week", type_=String)
    key = bindparam("ledger_key", type_=String)
    allot_key = literal("allot:") + cast(grant_id, String) + literal(":") + week

    def account(kind: AccountKind, iso_week: Any) -> ScalarSelect[Any]:
        return (
            select(ACCOUNT.c.id)
            .where(
                ACCOUNT.c.grant_id == grant_id,
                ACCOUNT.c.kind == kind.value,
                ACCOUNT.c.iso_week == iso_week,
            )
            .scalar_subquery()
        )

    return {
        "replayed_transfer_id": select(TRANSFER.c.id)
        .where(TRANSFER.c.idempotency_key == key)
        .scalar_subquery(),
        "allotted": select(TRANSFER.c.id)
        .where(TRANSFER.c.idempotency_key == allot_key)
        .scalar_subquery(),
        "granted_account_id": account(AccountKind.GRANTED, NO_WEEK),
        "available_account_id": account(AccountKind.AVAILABLE, week),
        "reserved_account_id": account(AccountKind.RESERVED, week),
    }


def reservation_lookup_params(iso_week: str, key: str) -> dict[str, str]:
    return {"ledger_week": iso_week, "ledger_key": key}


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
        .where(col(VoucherAccount.grant_id) == grant_id)
        .order_by(col(VoucherAccount.iso_week), col(VoucherAccount.kind))
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
        .where(col(LedgerTransfer.grant_id) == grant_id)
        .order_by(col(LedgerTransfer.id))
    )
    return result.scalars().all()
