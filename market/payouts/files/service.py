"""Bank payment files (ISO 20022 pain.001) for pending bank payouts."""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.auth.permissions import Actor
from market.clock import COPENHAGEN
from market.db import utcnow
from market.municipalities import service as municipalities
from market.payouts import repository
from market.payouts.exceptions import (
    MunicipalityAccountMissing,
    NothingForPaymentFile,
    PaymentFileNotFound,
    PaymentFilePaidAlready,
    PayoutChangedMeanwhile,
)
from market.payouts.models import PaymentFile, Payout, PayoutStatus
from market.payouts.repository import PayoutRow
from market.payouts.scope import managed_municipality
from providers.models import PayoutMethod

PAIN_SCHEMA = "pain.001.001.03"


def end_to_end_id(payout: Payout) -> str:
    """The payout's key, and for a payout sent again after a bank refused it the
    attempt, so the bank never sees one EndToEndId twice."""
    return (
        payout.idempotency_key
        if not payout.attempts
        else (f"{payout.idempotency_key}-r{payout.attempts}")
    )


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
    municipality_id = managed_municipality(actor)
    now = now or utcnow()
    municipality = await municipalities.get(session, municipality_id=municipality_id)
    if not municipality.payment_account_iban or not municipality.payment_account_bic:
        raise MunicipalityAccountMissing()
    rows = await _pending_bank_payouts(session, municipality_id)
    transfers = [_credit_transfer(row, municipality.name) for row in rows]
    message_id, content = build_pain001(
        debtor_name=municipality.name,
        debtor_iban=municipality.payment_account_iban,
        debtor_bic=municipality.payment_account_bic,
        transfers=transfers,
        execution_on=now.astimezone(COPENHAGEN).date(),
        schema=municipality.pain001_version,
    )
    payment_file = await repository.add_payment_file(
        session,
        PaymentFile(
            municipality_id=municipality_id,
            message_id=message_id,
            payouts=len(transfers),
            total_ore=sum(t.amount_ore for t in transfers),
            sha256=hashlib.sha256(content).hexdigest(),
            content=content.decode("utf-8"),
            created_by_user_id=actor.user_id,
            created_at=now,
        ),
    )
    await _submit(session, payment_file, rows, now)
    await _record_file(session, actor, payment_file, rows)
    return payment_file


async def _pending_bank_payouts(session: AsyncSession, municipality_id: int) -> list[PayoutRow]:
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
    return rows


def _credit_transfer(row: PayoutRow, municipality_name: str) -> CreditTransfer:
    return CreditTransfer(
        end_to_end_id=end_to_end_id(row.payout),
        amount_ore=row.payout.amount_ore,
        creditor_name=row.provider_name,
        iban=row.payout.destination,
        bic=row.payout.destination_bic,
        remittance=remittance_text(row.month_on, row.payout.statement_id, municipality_name),
    )


async def _submit(
    session: AsyncSession, payment_file: PaymentFile, rows: list[PayoutRow], now: datetime
) -> None:
    """The file's payouts become submitted with it, or the file is refused."""
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


async def _record_file(
    session: AsyncSession, actor: Actor, payment_file: PaymentFile, rows: list[PayoutRow]
) -> None:
    assert payment_file.id is not None
    await audit.record(
        session,
        actor=actor,
        action="payment_file.created",
        entity_type="payment_file",
        entity_id=payment_file.id,
        municipality_id=payment_file.municipality_id,
        data={
            "message_id": payment_file.message_id,
            "payouts": payment_file.payouts,
            "total_ore": payment_file.total_ore,
            "sha256": payment_file.sha256,
            "payout_ids": [row.payout.id for row in rows],
        },
    )


async def _own_file(session: AsyncSession, actor: Actor, file_id: int) -> PaymentFile:
    municipality_id = managed_municipality(actor)
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
