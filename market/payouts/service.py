"""Paying approved settlement statements to their providers, once.

A payout is one row per statement (``statement_id`` is unique, the key is
``payout:<statement_id>``), so making it twice finds the first. It is paid
either by a Stripe Connect transfer or in an ISO 20022 pain.001 credit
transfer file for the municipality's bank.

Transfers follow the outbox's shape: claim the payout in a short transaction
(attempts + 1 and a lease), call the gateway with no transaction open, record
the answer in another. The gateway call carries the payout's key and is
preceded by ``find_transfer`` under the same key, so a crash between the call
and its record is recovered when the lease ends: the next attempt finds the
transfer instead of making a second one."""

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.auth.permissions import Actor
from market.config import Settings
from market.db import utcnow
from market.money import format_kroner
from market.municipalities import service as municipalities
from market.municipalities.models import Municipality
from market.outbox import service as outbox
from market.payments.gateway import GatewayUnavailable, PaymentGateway, PaymentRefused
from market.payouts import repository
from market.payouts.accounts.service import (
    clean_bic,
    clean_iban,
    clean_stripe_account,
    mask_account,
    payout_destination,
    payout_details,
    save_payout_details,
    set_municipality_account,
)
from market.payouts.exceptions import (
    BankRefusalNeedsReason,
    NoApprovedStatements,
    NoMonthOrStatements,
    NothingToPayOut,
    PayoutChangedMeanwhile,
    PayoutNotFound,
    StatementNotApproved,
    StatementNotFound,
)
from market.payouts.files.service import (
    PAIN_SCHEMA,
    CreditTransfer,
    Download,
    build_pain001,
    create_payment_file,
    download_payment_file,
    end_to_end_id,
    mark_file_paid,
    remittance_text,
)
from market.payouts.models import PaymentFile, Payout, PayoutStatus
from market.payouts.repository import PayoutRow, StatementRow
from market.payouts.scope import check_transition, managed_municipality
from market.settlement.models import StatementStatus
from providers.models import PayoutMethod

# The package's API: making payouts, the page and Stripe transfers live here;
# accounts and bank payment files in their own sub-packages, re-exported.
__all__ = [
    "CLAIM_LEASE",
    "PAIN_SCHEMA",
    "CreditTransfer",
    "Download",
    "PayoutsView",
    "TransferReport",
    "build_pain001",
    "check_transition",
    "clean_bic",
    "clean_iban",
    "clean_stripe_account",
    "create_payment_file",
    "create_payouts",
    "download_payment_file",
    "end_to_end_id",
    "list_payouts",
    "mark_file_paid",
    "mask_account",
    "may_send_now",
    "overview",
    "payout_details",
    "record_bank_refusal",
    "remittance_text",
    "requeue_payout",
    "save_payout_details",
    "send_transfers",
    "set_municipality_account",
]

# A claimed transfer is not tried again by another worker before this ends;
# long enough for one gateway call with its retries.
CLAIM_LEASE = timedelta(minutes=5)


# --- making payouts -------------------------------------------------------------------


async def create_payouts(
    session: AsyncSession,
    *,
    actor: Actor,
    statement_ids: Sequence[int] | None = None,
    month_on: date | None = None,
) -> list[Payout]:
    """One payout per approved statement, with the amount of its total and the
    provider's destination as it is now. A statement paid before keeps its
    first payout (the unique statement id), so a double click pays once."""
    municipality_id = managed_municipality(actor)
    if not statement_ids and month_on is None:
        raise NoMonthOrStatements()
    if statement_ids:
        rows = await _chosen_statements(session, municipality_id, statement_ids)
    else:
        rows = await _month_statements(session, municipality_id, month_on)
    created: list[Payout] = []
    result: list[Payout] = []
    for row in rows:
        payout, new = await _payout_once(session, actor, municipality_id, row)
        result.append(payout)
        if new:
            created.append(payout)
    for payout in created:
        await _record_created(session, actor, municipality_id, payout)
    return result


async def _chosen_statements(
    session: AsyncSession, municipality_id: int, statement_ids: Sequence[int]
) -> list[StatementRow]:
    """The chosen statements, each approved and with something to pay."""
    wanted = sorted(set(statement_ids))
    found = await repository.statements_by_id(
        session, municipality_id=municipality_id, statement_ids=wanted
    )
    if len(found) != len(wanted):
        raise StatementNotFound()
    for statement in found:
        assert statement.id is not None
        if statement.status != StatementStatus.APPROVED:
            raise StatementNotApproved(statement.id)
        if statement.total_ore <= 0:
            raise NothingToPayOut(statement.id, format_kroner(statement.total_ore))
    return await repository.approved_statements(
        session, municipality_id=municipality_id, statement_ids=wanted
    )


async def _month_statements(
    session: AsyncSession, municipality_id: int, month_on: date | None
) -> list[StatementRow]:
    """A whole month: statements with nothing to pay are carried as
    adjustments and simply left out."""
    rows = [
        row
        for row in await repository.approved_statements(
            session, municipality_id=municipality_id, month_on=month_on
        )
        if row.statement.total_ore > 0
    ]
    if not rows:
        raise NoApprovedStatements()
    return rows


async def _payout_once(
    session: AsyncSession, actor: Actor, municipality_id: int, row: StatementRow
) -> tuple[Payout, bool]:
    """The statement's payout, made now unless it exists: (payout, made now)."""
    statement, provider = row.statement, row.provider
    assert statement.id is not None and provider.id is not None
    existing = await repository.payout_for_statement(session, statement.id)
    if existing is not None:
        return existing, False
    destination, bic = payout_destination(provider)
    await repository.add_payout_once(
        session,
        {
            "statement_id": statement.id,
            "municipality_id": municipality_id,
            "provider_id": provider.id,
            "method": provider.payout_method,
            "amount_ore": statement.total_ore,
            "status": PayoutStatus.PENDING,
            "idempotency_key": f"payout:{statement.id}",
            "destination": destination,
            "destination_bic": bic,
            "attempts": 0,
            "created_by_user_id": actor.user_id,
            "created_at": utcnow(),
        },
    )
    made = await repository.payout_for_statement(session, statement.id)
    assert made is not None
    return made, True


async def _record_created(
    session: AsyncSession, actor: Actor, municipality_id: int, payout: Payout
) -> None:
    assert payout.id is not None
    await audit.record(
        session,
        actor=actor,
        action="payout.created",
        entity_type="payout",
        entity_id=payout.id,
        municipality_id=municipality_id,
        data={
            "statement_id": payout.statement_id,
            "provider_id": payout.provider_id,
            "method": payout.method,
            "amount_ore": payout.amount_ore,
            "destination_last4": payout.destination[-4:],
            "idempotency_key": payout.idempotency_key,
        },
    )


async def record_bank_refusal(
    session: AsyncSession, *, actor: Actor, payout_id: int, reason: str
) -> Payout:
    """The bank reports that it did not carry out one transfer of a payment file
    (a closed account, a wrong name). The payout fails with the bank's words;
    once the provider's account is fixed, "try again" puts it in the next file.
    The rest of the file is unaffected."""
    municipality_id = managed_municipality(actor)
    reason = " ".join(reason.split())
    if not reason:
        raise BankRefusalNeedsReason()
    payout = await repository.get_payout(session, payout_id)
    if payout is None or payout.municipality_id != municipality_id:
        raise PayoutNotFound()
    check_transition(payout.status, PayoutStatus.FAILED)
    file_id = payout.payment_file_id
    if not await repository.refused_by_bank(
        session, payout_id=payout_id, reason=reason[:500], when=utcnow()
    ):
        raise PayoutChangedMeanwhile()
    await audit.record(
        session,
        actor=actor,
        action="payout.refused_by_bank",
        entity_type="payout",
        entity_id=payout_id,
        municipality_id=municipality_id,
        data={"payment_file_id": file_id, "reason": reason[:500]},
    )
    fresh = await repository.get_payout(session, payout_id)
    assert fresh is not None
    return fresh


async def requeue_payout(session: AsyncSession, *, actor: Actor, payout_id: int) -> Payout:
    """A failed payout tried again, to the provider's destination as it is now
    (after someone fixed the account)."""
    municipality_id = managed_municipality(actor)
    payout = await repository.get_payout(session, payout_id)
    if payout is None or payout.municipality_id != municipality_id:
        raise PayoutNotFound()
    check_transition(payout.status, PayoutStatus.PENDING)
    provider = await repository.get_provider(session, payout.provider_id)
    assert provider is not None
    destination, bic = payout_destination(provider)
    if not await repository.requeue(
        session,
        payout_id=payout_id,
        method=provider.payout_method,
        destination=destination,
        destination_bic=bic,
    ):
        raise PayoutChangedMeanwhile()
    await audit.record(
        session,
        actor=actor,
        action="payout.requeued",
        entity_type="payout",
        entity_id=payout_id,
        municipality_id=municipality_id,
        data={"method": provider.payout_method, "destination_last4": destination[-4:]},
    )
    fresh = await repository.get_payout(session, payout_id)
    assert fresh is not None
    return fresh


# --- the page ---------------------------------------------------------------------------


@dataclass
class PayoutsView:
    municipality: Municipality
    unpaid: list[StatementRow]
    payouts: list[PayoutRow]
    files: Sequence[PaymentFile]
    pending_bank: int = 0
    pending_stripe: int = 0


async def overview(session: AsyncSession, *, actor: Actor) -> PayoutsView:
    municipality_id = managed_municipality(actor)
    municipality = await municipalities.get(session, municipality_id=municipality_id)
    rows = await repository.payouts(session, municipality_id=municipality_id)
    pending = [r.payout for r in rows if r.payout.status == PayoutStatus.PENDING]
    return PayoutsView(
        municipality=municipality,
        unpaid=await repository.unpaid_statements(session, municipality_id=municipality_id),
        payouts=rows,
        files=await repository.payment_files(session, municipality_id=municipality_id),
        pending_bank=sum(1 for p in pending if p.method == PayoutMethod.BANK_FILE),
        pending_stripe=sum(1 for p in pending if p.method == PayoutMethod.STRIPE_TRANSFER),
    )


async def list_payouts(
    session: AsyncSession, *, actor: Actor, status: PayoutStatus | None = None
) -> list[PayoutRow]:
    return await repository.payouts(
        session, municipality_id=managed_municipality(actor), status=status
    )


# --- Stripe transfers ------------------------------------------------------------------

# An async_sessionmaker, or any provider of sessions (market.db.SessionProvider).
Sessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]


@dataclass
class TransferReport:
    paid: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def may_send_now(actor: Actor) -> int:
    """The municipality whose transfers the actor may send from the page."""
    return managed_municipality(actor)


async def _record_paid(
    sessions: Sessions, *, payout: Payout, reference: str, actor: Actor | None
) -> bool:
    """The transfer's id, recorded; False when the payout was no longer pending."""
    assert payout.id is not None
    async with sessions() as session, session.begin():
        if not await repository.mark_transfer_paid(
            session, payout_id=payout.id, reference=reference, when=utcnow()
        ):
            return False
        await audit.record(
            session,
            actor=actor,
            action="payout.paid",
            entity_type="payout",
            entity_id=payout.id,
            municipality_id=payout.municipality_id,
            data={
                "method": payout.method,
                "amount_ore": payout.amount_ore,
                "gateway_reference": reference,
                "attempt": payout.attempts,
            },
        )
    return True


async def send_transfers(
    sessions: Sessions,
    *,
    settings: Settings,
    gateway: PaymentGateway,
    now: datetime | None = None,
    municipality_id: int | None = None,
    actor: Actor | None = None,
    limit: int = 100,
) -> TransferReport:
    """Pays due Stripe payouts. Each is claimed, sent and recorded in steps of
    their own, so nothing calls Stripe while a transaction is open."""
    now = now or utcnow()
    report = TransferReport()
    async with sessions() as session, session.begin():
        candidates = await repository.due_transfers(
            session, now=now, municipality_id=municipality_id, limit=limit
        )
    for payout_id, attempts in candidates:
        async with sessions() as session, session.begin():
            payout = await repository.claim_transfer(
                session,
                payout_id=payout_id,
                seen_attempts=attempts,
                now=now,
                lease_until=now + CLAIM_LEASE,
            )
        if payout is None:
            continue  # another worker has it
        await _send_one(
            sessions,
            payout,
            settings=settings,
            gateway=gateway,
            now=now,
            actor=actor,
            report=report,
        )
    return report


async def _send_one(
    sessions: Sessions,
    payout: Payout,
    *,
    settings: Settings,
    gateway: PaymentGateway,
    now: datetime,
    actor: Actor | None,
    report: TransferReport,
) -> None:
    """One claimed payout: sent (or found sent), then recorded as paid, to be
    retried, or failed."""
    assert payout.id is not None
    try:
        reference = await _transfer(gateway, payout)
    except GatewayUnavailable as exc:
        async with sessions() as session, session.begin():
            await repository.mark_transfer_retry(
                session,
                payout_id=payout.id,
                error=str(exc) or type(exc).__name__,
                retry_at=now + outbox.backoff(settings, payout.attempts),
            )
        report.retrying.append(payout.id)
        return
    except PaymentRefused as exc:
        await _record_failed(sessions, payout, exc, actor)
        report.failed.append(payout.id)
        return
    if await _record_paid(sessions, payout=payout, reference=reference, actor=actor):
        report.paid.append(payout.id)


async def _transfer(gateway: PaymentGateway, payout: Payout) -> str:
    """A transfer made under this key before a crash is found, not repeated."""
    reference = await gateway.find_transfer(idempotency_key=payout.idempotency_key)
    if reference is not None:
        return reference
    return await gateway.transfer(
        amount_ore=payout.amount_ore,
        destination=payout.destination,
        idempotency_key=payout.idempotency_key,
        metadata={
            "payout_id": str(payout.id),
            "statement_id": str(payout.statement_id),
            "municipality_id": str(payout.municipality_id),
            "provider_id": str(payout.provider_id),
        },
    )


async def _record_failed(
    sessions: Sessions, payout: Payout, exc: PaymentRefused, actor: Actor | None
) -> None:
    assert payout.id is not None
    async with sessions() as session, session.begin():
        if await repository.mark_failed(
            session, payout_id=payout.id, error=str(exc) or type(exc).__name__
        ):
            await audit.record(
                session,
                actor=actor,
                action="payout.failed",
                entity_type="payout",
                entity_id=payout.id,
                municipality_id=payout.municipality_id,
                data={"reason": str(exc), "attempt": payout.attempts},
            )
