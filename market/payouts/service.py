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

import hashlib
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.auth.permissions import Actor, Permission
from market.clock import COPENHAGEN
from market.config import Settings
from market.db import utcnow
from market.money import format_kroner
from market.municipalities import service as municipalities
from market.municipalities.models import Municipality
from market.outbox import service as outbox
from market.payments.gateway import GatewayUnavailable, PaymentGateway, PaymentRefused
from market.payouts import repository
from market.payouts.exceptions import (
    BankRefusalNeedsReason,
    InvalidBic,
    InvalidIban,
    InvalidStripeAccount,
    MissingBankAccount,
    MissingStripeAccount,
    MunicipalityAccountMissing,
    NoApprovedStatements,
    NoMonthOrStatements,
    NotAMunicipalAdmin,
    NothingForPaymentFile,
    NothingToPayOut,
    PaymentFileNotFound,
    PaymentFilePaidAlready,
    PayoutChangedMeanwhile,
    PayoutNotFound,
    PayoutTransitionRefused,
    StatementNotApproved,
    StatementNotFound,
)
from market.payouts.models import PAYOUT_TRANSITIONS, PaymentFile, Payout, PayoutStatus
from market.payouts.repository import PayoutRow, StatementRow
from market.settlement.models import StatementStatus
from providers import service as providers
from providers.models import PayoutMethod, Provider

# A claimed transfer is not tried again by another worker before this ends;
# long enough for one gateway call with its retries.
CLAIM_LEASE = timedelta(minutes=5)
PAIN_SCHEMA = "pain.001.001.03"


def check_transition(current: PayoutStatus, wanted: PayoutStatus) -> None:
    if wanted not in PAYOUT_TRANSITIONS[current]:
        raise PayoutTransitionRefused(current.value, wanted.value)


def _municipality_of(actor: Actor) -> int:
    if not actor.can(Permission.PAYOUT_MANAGE) or actor.municipality_id is None:
        raise NotAMunicipalAdmin()
    return actor.municipality_id


# --- accounts: IBAN, BIC, Stripe ----------------------------------------------------


def clean_iban(text: str) -> str:
    """The IBAN in its compact form, checked (country, length, check digits)."""
    from schwifty import IBAN
    from schwifty.exceptions import SchwiftyException

    value = "".join(text.split()).upper()
    try:
        return str(IBAN(value).compact)
    except (SchwiftyException, ValueError) as exc:
        raise InvalidIban(text.strip()) from exc


def clean_bic(text: str) -> str:
    from schwifty import BIC
    from schwifty.exceptions import SchwiftyException

    value = "".join(text.split()).upper()
    try:
        return str(BIC(value).compact)
    except (SchwiftyException, ValueError) as exc:
        raise InvalidBic(text.strip()) from exc


def clean_stripe_account(text: str) -> str:
    value = text.strip()
    if not value.startswith("acct_") or len(value) < 8 or not value[5:].isalnum():
        raise InvalidStripeAccount(value)
    return value


def mask_account(value: str) -> str:
    """An IBAN or account shown with only its last four characters."""
    if len(value) <= 4:
        return value
    return "•" * 4 + " " + value[-4:]


def _destination(provider: Provider) -> tuple[str, str | None]:
    """Where the provider's money goes, or the sentence why it cannot."""
    if provider.payout_method == PayoutMethod.STRIPE_TRANSFER:
        if not provider.stripe_account_id:
            raise MissingStripeAccount(provider.name)
        return provider.stripe_account_id, None
    if not provider.payout_iban or not provider.payout_bic:
        raise MissingBankAccount(provider.name)
    return provider.payout_iban, provider.payout_bic


async def set_municipality_account(
    session: AsyncSession, *, actor: Actor, iban: str, bic: str
) -> Municipality:
    """The municipality's own account: the debtor of its payment files."""
    municipality_id = _municipality_of(actor)
    clean = clean_iban(iban), clean_bic(bic)
    municipality = await municipalities.set_payment_account(
        session, municipality_id=municipality_id, iban=clean[0], bic=clean[1]
    )
    await audit.record(
        session,
        actor=actor,
        action="municipality.payment_account_set",
        entity_type="municipality",
        entity_id=municipality_id,
        municipality_id=municipality_id,
        data={"iban_last4": clean[0][-4:], "bic": clean[1]},
    )
    return municipality


async def payout_details(session: AsyncSession, *, actor: Actor) -> Provider:
    return await providers.own_provider(session, actor=actor)


async def save_payout_details(
    session: AsyncSession,
    *,
    actor: Actor,
    method: str,
    iban: str = "",
    bic: str = "",
    stripe_account_id: str = "",
) -> Provider:
    """A provider admin's payout details: checked here, stored by providers."""
    try:
        chosen = PayoutMethod(method)
    except ValueError as exc:
        from market.payouts.exceptions import UnknownPayoutMethod

        raise UnknownPayoutMethod() from exc
    clean_account = clean_stripe_account(stripe_account_id) if stripe_account_id.strip() else None
    clean_iban_ = clean_iban(iban) if iban.strip() else None
    clean_bic_ = clean_bic(bic) if bic.strip() else None
    if chosen == PayoutMethod.BANK_FILE and (clean_iban_ is None or clean_bic_ is None):
        raise (InvalidIban(iban) if clean_iban_ is None else InvalidBic(bic))
    if chosen == PayoutMethod.STRIPE_TRANSFER and clean_account is None:
        raise InvalidStripeAccount(stripe_account_id)
    return await providers.set_payout_details(
        session,
        actor=actor,
        method=chosen,
        iban=clean_iban_,
        bic=clean_bic_,
        stripe_account_id=clean_account,
    )


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
    municipality_id = _municipality_of(actor)
    if not statement_ids and month_on is None:
        raise NoMonthOrStatements()
    rows: list[StatementRow]
    if statement_ids:
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
        rows = await repository.approved_statements(
            session, municipality_id=municipality_id, statement_ids=wanted
        )
    else:
        # A whole month: statements with nothing to pay are carried as
        # adjustments and simply left out.
        rows = [
            row
            for row in await repository.approved_statements(
                session, municipality_id=municipality_id, month_on=month_on
            )
            if row.statement.total_ore > 0
        ]
        if not rows:
            raise NoApprovedStatements()
    created: list[Payout] = []
    result: list[Payout] = []
    for row in rows:
        statement, provider = row.statement, row.provider
        assert statement.id is not None and provider.id is not None
        existing = await repository.payout_for_statement(session, statement.id)
        if existing is None:
            destination, bic = _destination(provider)
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
            existing = await repository.payout_for_statement(session, statement.id)
            assert existing is not None
            created.append(existing)
        result.append(existing)
    for payout in created:
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
    return result


async def record_bank_refusal(
    session: AsyncSession, *, actor: Actor, payout_id: int, reason: str
) -> Payout:
    """The bank reports that it did not carry out one transfer of a payment file
    (a closed account, a wrong name). The payout fails with the bank's words;
    once the provider's account is fixed, "try again" puts it in the next file.
    The rest of the file is unaffected."""
    municipality_id = _municipality_of(actor)
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


def end_to_end_id(payout: Payout) -> str:
    """The payout's key, and for a payout sent again after a bank refused it the
    attempt, so the bank never sees one EndToEndId twice."""
    return (
        payout.idempotency_key
        if not payout.attempts
        else (f"{payout.idempotency_key}-r{payout.attempts}")
    )


async def requeue_payout(session: AsyncSession, *, actor: Actor, payout_id: int) -> Payout:
    """A failed payout tried again, to the provider's destination as it is now
    (after someone fixed the account)."""
    municipality_id = _municipality_of(actor)
    payout = await repository.get_payout(session, payout_id)
    if payout is None or payout.municipality_id != municipality_id:
        raise PayoutNotFound()
    check_transition(payout.status, PayoutStatus.PENDING)
    provider = await repository.get_provider(session, payout.provider_id)
    assert provider is not None
    destination, bic = _destination(provider)
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
    municipality_id = _municipality_of(actor)
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
    return await repository.payouts(session, municipality_id=_municipality_of(actor), status=status)


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
    return _municipality_of(actor)


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
        try:
            # A transfer made under this key before a crash is found, not repeated.
            reference = await gateway.find_transfer(idempotency_key=payout.idempotency_key)
            if reference is None:
                reference = await gateway.transfer(
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
        except GatewayUnavailable as exc:
            async with sessions() as session, session.begin():
                await repository.mark_transfer_retry(
                    session,
                    payout_id=payout_id,
                    error=str(exc) or type(exc).__name__,
                    retry_at=now + outbox.backoff(settings, payout.attempts),
                )
            report.retrying.append(payout_id)
            continue
        except PaymentRefused as exc:
            async with sessions() as session, session.begin():
                if await repository.mark_failed(
                    session, payout_id=payout_id, error=str(exc) or type(exc).__name__
                ):
                    await audit.record(
                        session,
                        actor=actor,
                        action="payout.failed",
                        entity_type="payout",
                        entity_id=payout_id,
                        municipality_id=payout.municipality_id,
                        data={"reason": str(exc), "attempt": payout.attempts},
                    )
            report.failed.append(payout_id)
            continue
        if await _record_paid(sessions, payout=payout, reference=reference, actor=actor):
            report.paid.append(payout_id)
    return report


# --- bank payment files (pain.001) -------------------------------------------------------


@dataclass(frozen=True)
class CreditTransfer:
    end_to_end_id: str
    amount_ore: int
    creditor_name: str
    iban: str
    bic: str | None
    remittance: str


def remittance_text(month_on: date, statement_id: int, municipality: str) -> str:
    """What the provider reads on its bank statement."""
    return f"Afregning {month_on:%Y-%m} opgoerelse {statement_id} {municipality}"[:140]


def build_pain001(
    *,
    debtor_name: str,
    debtor_iban: str,
    debtor_bic: str,
    transfers: Sequence[CreditTransfer],
    execution_on: date,
    currency: str = "DKK",
    schema: str = PAIN_SCHEMA,
) -> tuple[str, bytes]:
    """One pain.001 credit transfer message (one batch) in the version the
    municipality's bank takes (``schema``: pain.001.001.03 or .09), validated
    against the XSD that sepaxml ships. Returns (message id, XML)."""
    from sepaxml import SepaTransfer

    config = {
        "name": debtor_name,
        "IBAN": debtor_iban,
        "BIC": debtor_bic,
        "batch": True,
        "currency": currency,
        # A DKK transfer is no SEPA payment: no SEPA service level.
        "domestic": True,
    }
    message = SepaTransfer(config, schema=schema, clean=True)
    for transfer in transfers:
        payment: dict[str, object] = {
            "name": transfer.creditor_name,
            "IBAN": transfer.iban,
            "amount": transfer.amount_ore,  # sepaxml takes minor units and writes them exactly
            "execution_date": execution_on,
            "description": transfer.remittance,
            "endtoend_id": transfer.end_to_end_id,
        }
        if transfer.bic:
            payment["BIC"] = transfer.bic
        message.add_payment(payment)
    content = message.export(validate=True)
    return str(message.msg_id), content


async def create_payment_file(
    session: AsyncSession, *, actor: Actor, now: datetime | None = None
) -> PaymentFile:
    """Every pending bank payout of the municipality in one payment file. The
    payouts become submitted with the file in the same transaction, so a
    payout is in one file only."""
    municipality_id = _municipality_of(actor)
    now = now or utcnow()
    municipality = await municipalities.get(session, municipality_id=municipality_id)
    if not municipality.payment_account_iban or not municipality.payment_account_bic:
        raise MunicipalityAccountMissing()
    rows = [
        row
        for row in await repository.payouts(
            session, municipality_id=municipality_id, status=PayoutStatus.PENDING
        )
        if row.payout.method == PayoutMethod.BANK_FILE
    ]
    if not rows:
        raise NothingForPaymentFile()
    rows.sort(key=lambda r: r.payout.id or 0)
    transfers = [
        CreditTransfer(
            end_to_end_id=end_to_end_id(row.payout),
            amount_ore=row.payout.amount_ore,
            creditor_name=row.provider_name,
            iban=row.payout.destination,
            bic=row.payout.destination_bic,
            remittance=remittance_text(row.month_on, row.payout.statement_id, municipality.name),
        )
        for row in rows
    ]
    message_id, content = build_pain001(
        debtor_name=municipality.name,
        debtor_iban=municipality.payment_account_iban,
        debtor_bic=municipality.payment_account_bic,
        transfers=transfers,
        execution_on=now.astimezone(COPENHAGEN).date(),
        schema=municipality.pain001_version,
    )
    total = sum(t.amount_ore for t in transfers)
    payment_file = await repository.add_payment_file(
        session,
        PaymentFile(
            municipality_id=municipality_id,
            message_id=message_id,
            payouts=len(transfers),
            total_ore=total,
            sha256=hashlib.sha256(content).hexdigest(),
            content=content.decode("utf-8"),
            created_by_user_id=actor.user_id,
            created_at=now,
        ),
    )
    assert payment_file.id is not None
    taken = await repository.submit_in_file(
        session,
        payout_ids=[row.payout.id for row in rows if row.payout.id is not None],
        payment_file_id=payment_file.id,
        when=now,
    )
    if taken != len(rows):
        # Another file took some of them meanwhile: this one is rolled back.
        raise PayoutChangedMeanwhile()
    await audit.record(
        session,
        actor=actor,
        action="payment_file.created",
        entity_type="payment_file",
        entity_id=payment_file.id,
        municipality_id=municipality_id,
        data={
            "message_id": message_id,
            "payouts": len(transfers),
            "total_ore": total,
            "sha256": payment_file.sha256,
            "payout_ids": [row.payout.id for row in rows],
        },
    )
    return payment_file


async def _own_file(session: AsyncSession, actor: Actor, file_id: int) -> PaymentFile:
    municipality_id = _municipality_of(actor)
    payment_file = await repository.get_payment_file(session, file_id)
    if payment_file is None or payment_file.municipality_id != municipality_id:
        raise PaymentFileNotFound()
    return payment_file


async def mark_file_paid(session: AsyncSession, *, actor: Actor, file_id: int) -> PaymentFile:
    """The bank has paid the file: its payouts are paid."""
    payment_file = await _own_file(session, actor, file_id)
    if payment_file.paid_at is not None:
        raise PaymentFilePaidAlready()
    paid = await repository.mark_file_paid(
        session, file_id=file_id, user_id=actor.user_id, when=utcnow()
    )
    if not paid and payment_file.payouts:
        raise PaymentFilePaidAlready()
    await audit.record(
        session,
        actor=actor,
        action="payment_file.paid",
        entity_type="payment_file",
        entity_id=file_id,
        municipality_id=payment_file.municipality_id,
        data={"payout_ids": paid, "total_ore": payment_file.total_ore},
    )
    return await _own_file(session, actor, file_id)


@dataclass(frozen=True)
class Download:
    filename: str
    content: bytes


async def download_payment_file(session: AsyncSession, *, actor: Actor, file_id: int) -> Download:
    payment_file = await _own_file(session, actor, file_id)
    municipality = await municipalities.get(session, municipality_id=payment_file.municipality_id)
    code = municipality.code
    stamp = payment_file.created_at.astimezone(COPENHAGEN).strftime("%Y%m%d")
    return Download(
        filename=f"pain001-{code}-{stamp}-{payment_file.id}.xml",
        content=payment_file.content.encode("utf-8"),
    )
