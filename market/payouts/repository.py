"""Every query of payouts. Writes that guard money are single conditional
statements (``UPDATE … WHERE status = …``), so two workers or two tabs can
never move the same payout twice."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.payouts.models import PaymentFile, Payout, PayoutStatus
from market.settlement.models import Statement, StatementStatus
from providers.models import PayoutMethod, Provider


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


# --- statements and payouts ------------------------------------------------------


@dataclass(frozen=True)
class StatementRow:
    statement: Statement
    provider: Provider


@dataclass(frozen=True)
class PayoutRow:
    payout: Payout
    provider_name: str
    month_on: date


async def approved_statements(
    session: AsyncSession,
    *,
    municipality_id: int,
    statement_ids: Sequence[int] | None = None,
    month_on: date | None = None,
) -> list[StatementRow]:
    query = (
        select(Statement, Provider)
        .join(Provider, col(Provider.id) == col(Statement.provider_id))
        .where(
            col(Statement.municipality_id) == municipality_id,
            col(Statement.status) == StatementStatus.APPROVED,
        )
        .order_by(col(Statement.month_on), col(Provider.name), col(Statement.id))
    )
    if statement_ids is not None:
        query = query.where(col(Statement.id).in_(list(statement_ids)))
    if month_on is not None:
        query = query.where(col(Statement.month_on) == month_on)
    result = await session.execute(query)
    return [StatementRow(statement=s, provider=p) for s, p in result.all()]


async def statements_by_id(
    session: AsyncSession, *, municipality_id: int, statement_ids: Sequence[int]
) -> list[Statement]:
    result = await session.execute(
        select(Statement).where(
            col(Statement.municipality_id) == municipality_id,
            col(Statement.id).in_(list(statement_ids)),
        )
    )
    return list(result.scalars().all())


async def unpaid_statements(session: AsyncSession, *, municipality_id: int) -> list[StatementRow]:
    """Approved statements with no payout yet (the page's "to pay" list)."""
    result = await session.execute(
        select(Statement, Provider)
        .join(Provider, col(Provider.id) == col(Statement.provider_id))
        .outerjoin(Payout, col(Payout.statement_id) == col(Statement.id))
        .where(
            col(Statement.municipality_id) == municipality_id,
            col(Statement.status) == StatementStatus.APPROVED,
            col(Payout.id).is_(None),
        )
        .order_by(col(Statement.month_on), col(Provider.name), col(Statement.id))
    )
    return [StatementRow(statement=s, provider=p) for s, p in result.all()]


async def add_payout_once(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Inserts the payout unless the statement has one; True when inserted."""
    result = await session.execute(
        _insert(session)(Payout)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["statement_id"])
        .returning(col(Payout.id))
    )
    return result.scalar_one_or_none() is not None


async def payout_for_statement(session: AsyncSession, statement_id: int) -> Payout | None:
    result = await session.execute(
        select(Payout)
        .where(col(Payout.statement_id) == statement_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def get_payout(session: AsyncSession, payout_id: int) -> Payout | None:
    result = await session.execute(
        select(Payout).where(col(Payout.id) == payout_id).execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def payouts(
    session: AsyncSession,
    *,
    municipality_id: int,
    status: PayoutStatus | None = None,
    payment_file_id: int | None = None,
) -> list[PayoutRow]:
    query = (
        select(Payout, col(Provider.name), col(Statement.month_on))
        .join(Provider, col(Provider.id) == col(Payout.provider_id))
        .join(Statement, col(Statement.id) == col(Payout.statement_id))
        .where(col(Payout.municipality_id) == municipality_id)
        .order_by(col(Payout.created_at).desc(), col(Payout.id).desc())
        .execution_options(populate_existing=True)
    )
    if status is not None:
        query = query.where(col(Payout.status) == status)
    if payment_file_id is not None:
        query = query.where(col(Payout.payment_file_id) == payment_file_id)
    result = await session.execute(query)
    return [PayoutRow(payout=p, provider_name=n, month_on=m) for p, n, m in result.all()]


# --- Stripe transfers ------------------------------------------------------------


def _due(now: datetime) -> Any:
    return or_(col(Payout.next_attempt_at).is_(None), col(Payout.next_attempt_at) <= now)


async def due_transfers(
    session: AsyncSession, *, now: datetime, municipality_id: int | None, limit: int
) -> list[tuple[int, int]]:
    """(id, attempts) of pending Stripe payouts whose turn it is."""
    query = (
        select(col(Payout.id), col(Payout.attempts))
        .where(
            col(Payout.method) == PayoutMethod.STRIPE_TRANSFER,
            col(Payout.status) == PayoutStatus.PENDING,
            _due(now),
        )
        .order_by(col(Payout.id))
        .limit(limit)
    )
    if municipality_id is not None:
        query = query.where(col(Payout.municipality_id) == municipality_id)
    result = await session.execute(query)
    return [(row[0], row[1]) for row in result.all() if row[0] is not None]


async def claim_transfer(
    session: AsyncSession,
    *,
    payout_id: int,
    seen_attempts: int,
    now: datetime,
    lease_until: datetime,
) -> Payout | None:
    """Takes the payout for one attempt, unless another worker took it first."""
    result = await session.execute(
        update(Payout)
        .where(
            col(Payout.id) == payout_id,
            col(Payout.status) == PayoutStatus.PENDING,
            col(Payout.attempts) == seen_attempts,
            _due(now),
        )
        .values(attempts=col(Payout.attempts) + 1, next_attempt_at=lease_until)
        .returning(Payout)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def mark_transfer_paid(
    session: AsyncSession, *, payout_id: int, reference: str, when: datetime
) -> bool:
    result = await session.execute(
        update(Payout)
        .where(col(Payout.id) == payout_id, col(Payout.status) == PayoutStatus.PENDING)
        .values(
            status=PayoutStatus.PAID,
            gateway_reference=reference,
            submitted_at=when,
            paid_at=when,
            last_error=None,
            next_attempt_at=None,
        )
        .returning(col(Payout.id))
    )
    return result.scalar_one_or_none() is not None


async def mark_transfer_retry(
    session: AsyncSession, *, payout_id: int, error: str, retry_at: datetime
) -> None:
    await session.execute(
        update(Payout)
        .where(col(Payout.id) == payout_id, col(Payout.status) == PayoutStatus.PENDING)
        .values(last_error=error, next_attempt_at=retry_at)
    )


async def mark_failed(session: AsyncSession, *, payout_id: int, error: str) -> bool:
    result = await session.execute(
        update(Payout)
        .where(col(Payout.id) == payout_id, col(Payout.status) == PayoutStatus.PENDING)
        .values(status=PayoutStatus.FAILED, last_error=error, next_attempt_at=None)
        .returning(col(Payout.id))
    )
    return result.scalar_one_or_none() is not None


async def refused_by_bank(
    session: AsyncSession, *, payout_id: int, reason: str, when: datetime
) -> bool:
    """A payout in a payment file that the bank did not carry out. It leaves
    the file (which stays as it was written), so a later file can take it."""
    result = await session.execute(
        update(Payout)
        .where(
            col(Payout.id) == payout_id,
            col(Payout.status) == PayoutStatus.SUBMITTED,
            col(Payout.method) == PayoutMethod.BANK_FILE,
        )
        .values(
            status=PayoutStatus.FAILED,
            last_error=reason,
            payment_file_id=None,
            attempts=col(Payout.attempts) + 1,
            next_attempt_at=None,
        )
        .returning(col(Payout.id))
    )
    return result.scalar_one_or_none() is not None


async def requeue(
    session: AsyncSession,
    *,
    payout_id: int,
    method: PayoutMethod,
    destination: str,
    destination_bic: str | None,
) -> bool:
    result = await session.execute(
        update(Payout)
        .where(col(Payout.id) == payout_id, col(Payout.status) == PayoutStatus.FAILED)
        .values(
            status=PayoutStatus.PENDING,
            method=method,
            destination=destination,
            destination_bic=destination_bic,
            next_attempt_at=None,
        )
        .returning(col(Payout.id))
    )
    return result.scalar_one_or_none() is not None


# --- bank payment files ------------------------------------------------------------


async def add_payment_file(session: AsyncSession, payment_file: PaymentFile) -> PaymentFile:
    session.add(payment_file)
    await session.flush()
    return payment_file


async def submit_in_file(
    session: AsyncSession, *, payout_ids: Sequence[int], payment_file_id: int, when: datetime
) -> int:
    """Puts pending bank payouts into the file; returns how many it took. A
    payout already taken by another file is not taken again."""
    result = await session.execute(
        update(Payout)
        .where(
            col(Payout.id).in_(list(payout_ids)),
            col(Payout.status) == PayoutStatus.PENDING,
            col(Payout.method) == PayoutMethod.BANK_FILE,
            col(Payout.payment_file_id).is_(None),
        )
        .values(status=PayoutStatus.SUBMITTED, payment_file_id=payment_file_id, submitted_at=when)
        .returning(col(Payout.id))
    )
    return len(result.all())


async def payment_files(session: AsyncSession, *, municipality_id: int) -> Sequence[PaymentFile]:
    result = await session.execute(
        select(PaymentFile)
        .where(col(PaymentFile.municipality_id) == municipality_id)
        .order_by(col(PaymentFile.created_at).desc(), col(PaymentFile.id).desc())
        .execution_options(populate_existing=True)
    )
    return result.scalars().all()


async def get_payment_file(session: AsyncSession, file_id: int) -> PaymentFile | None:
    result = await session.execute(
        select(PaymentFile)
        .where(col(PaymentFile.id) == file_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def mark_file_paid(
    session: AsyncSession, *, file_id: int, user_id: int, when: datetime
) -> list[int]:
    """Marks the file and its submitted payouts paid; the payout ids, or none
    when the file was marked paid before."""
    marked = await session.execute(
        update(PaymentFile)
        .where(col(PaymentFile.id) == file_id, col(PaymentFile.paid_at).is_(None))
        .values(paid_at=when, paid_by_user_id=user_id)
        .returning(col(PaymentFile.id))
    )
    if marked.scalar_one_or_none() is None:
        return []
    result = await session.execute(
        update(Payout)
        .where(col(Payout.payment_file_id) == file_id, col(Payout.status) == PayoutStatus.SUBMITTED)
        .values(status=PayoutStatus.PAID, paid_at=when)
        .returning(col(Payout.id))
    )
    return [row[0] for row in result.all() if row[0] is not None]


# --- accounts ------------------------------------------------------------------------


async def get_provider(session: AsyncSession, provider_id: int) -> Provider | None:
    result = await session.execute(
        select(Provider)
        .where(col(Provider.id) == provider_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()
