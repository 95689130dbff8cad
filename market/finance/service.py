"""Finance: the e-invoice of an approved statement, the credit note of a
lowering adjustment, read-only pages for the municipality's systems, and
the municipality's e-invoice and payment-file settings.

Every read here needs a read permission only (SETTLEMENT_VIEW, or
COPAYMENT_VIEW for co-payment statements), so a read-only finance token
can use all of it."""

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.auth.permissions import Actor, Permission, municipality_scope
from market.clock import COPENHAGEN, last_of_month
from market.copayments.models import CopaymentStatement
from market.db import utcnow
from market.finance import einvoice, repository
from market.finance.exceptions import (
    BadPage,
    CreditNoteNotFound,
    EInvoiceSettingsMissing,
    EInvoiceStatementNotFound,
    InvalidBuyerReference,
    InvalidGln,
    NothingToInvoice,
    NotMunicipalStaff,
    StatementNotApprovedYet,
    UnknownPainVersion,
)
from market.finance.models import IssuedDocument
from market.finance.ubl import Buyer, Document, Payment, Seller, render
from market.municipalities import service as municipalities
from market.municipalities.models import Municipality
from market.payouts.models import PaymentFile
from market.settlement import explain
from market.settlement.models import Adjustment, Statement, StatementLine, StatementStatus
from providers.models import PayoutMethod, Provider

PAIN_VERSIONS = ("pain.001.001.03", "pain.001.001.09")
MAX_PAGE_SIZE = 200
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    size: int
    total: int


@dataclass(frozen=True)
class Listing:
    """Which rows of a paged list: one month, one provider (either may be
    None: all), and the page of that size."""

    month_on: date | None = None
    provider_id: int | None = None
    page: int = 1
    size: int = 50


ALL = Listing()


def _window(page: int, size: int) -> tuple[int, int]:
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise BadPage()
    return (page - 1) * size, size


async def _fetch_page(
    session: AsyncSession,
    fetch: Callable[..., Awaitable[tuple[list[R], int]]],
    *,
    actor: Actor,
    permission: Permission = Permission.SETTLEMENT_VIEW,
    listing: Listing,
    **filters: object,
) -> tuple[int, list[R], int]:
    """One page of a municipality's rows: checks the actor may read them and the
    page is sane, then asks the repository's pager ``fetch`` (which takes the
    municipality, the month, ``filters``, offset and limit). Returns the
    municipality, the rows and the total."""
    municipality_id = municipality_scope(actor, permission, NotMunicipalStaff)
    offset, limit = _window(listing.page, listing.size)
    rows, total = await fetch(
        session,
        municipality_id=municipality_id,
        month_on=listing.month_on,
        offset=offset,
        limit=limit,
        **filters,
    )
    return municipality_id, rows, total


# --- e-invoices -----------------------------------------------------------------------


@dataclass(frozen=True)
class EDocument:
    kind: str  # "invoice" or "credit_note"
    number: str
    filename: str
    content: bytes
    payable_ore: int


def _seller(provider: Provider) -> Seller:
    return Seller(
        name=provider.name,
        cvr=provider.cvr,
        street=provider.address,
        postal_code=provider.postal_code,
        city=provider.city,
    )


def _buyer(municipality: Municipality) -> Buyer:
    if not municipality.peppol_gln or not municipality.invoice_buyer_reference:
        raise EInvoiceSettingsMissing()
    return Buyer(
        name=f"{municipality.name}",
        gln=municipality.peppol_gln,
        reference=municipality.invoice_buyer_reference,
    )


def _payment(provider: Provider, reference: str) -> Payment:
    if provider.payout_method == PayoutMethod.BANK_FILE and provider.payout_iban:
        return Payment(reference, iban=provider.payout_iban, bic=provider.payout_bic)
    return Payment(reference)


def source_lines(lines: list[StatementLine]) -> list[einvoice.SourceLine]:
    result = []
    for line in lines:
        params = json.loads(line.explanation_params_json)
        result.append(
            einvoice.SourceLine(
                kind=line.kind,
                quantity=line.quantity,
                unit_amount_ore=None
                if line.unit_amount_ore is None
                else Decimal(line.unit_amount_ore),
                rate_bp=line.rate_bp,
                amount_ore=line.amount_ore,
                text=explain.render(line.explanation, params, einvoice.LANGUAGE),
                params=params,
            )
        )
    return result


def _local_day(statement: Statement) -> date:
    assert statement.approved_at is not None
    return statement.approved_at.astimezone(COPENHAGEN).date()


async def _approved_parts(
    session: AsyncSession, municipality_id: int, statement_id: int
) -> repository.StatementParts:
    parts = await repository.statement_parts(session, statement_id)
    if parts is None or parts.statement.municipality_id != municipality_id:
        raise EInvoiceStatementNotFound()
    if parts.statement.status != StatementStatus.APPROVED:
        raise StatementNotApprovedYet()
    return parts


def _invoice_document(municipality: Municipality, parts: repository.StatementParts) -> Document:
    statement, terms = parts.statement, parts.terms
    assert statement.id is not None
    number = einvoice.invoice_number(municipality.code, statement.month_on, statement.id)
    document = einvoice.statement_invoice(
        number=number,
        statement_id=statement.id,
        month_on=statement.month_on,
        period_end=last_of_month(statement.month_on),
        approved_on=_local_day(statement),
        seller=_seller(parts.provider),
        buyer=_buyer(municipality),
        tax=einvoice.tax_of(terms.vat_category, terms.vat_rate_bp, terms.vat_exemption_reason),
        payment=_payment(parts.provider, number),
        lines=source_lines(parts.lines),
        audit=einvoice.audit_reference(statement.audit_chain_seq, statement.audit_chain_hash),
    )
    if document is None:
        raise NothingToInvoice()
    return document


def _stored(row: IssuedDocument) -> EDocument:
    return EDocument(
        kind=row.kind,
        number=row.number,
        filename=f"{row.number}.xml",
        content=row.content.encode("utf-8"),
        payable_ore=row.payable_ore,
    )


async def _issue(
    session: AsyncSession,
    *,
    municipality_id: int,
    document: Document,
    statement_id: int,
    adjustment_id: int | None,
) -> EDocument:
    """The document as first issued: stored with its SHA-256 on the first
    fetch, returned as stored ever after."""
    content = render(document)
    row = await repository.issue_once(
        session,
        {
            "municipality_id": municipality_id,
            "number": document.number,
            "kind": document.kind.value,
            "statement_id": statement_id,
            "adjustment_id": adjustment_id,
            "payable_ore": document.payable_ore,
            "sha256": hashlib.sha256(content).hexdigest(),
            "content": content.decode("utf-8"),
            "issued_at": utcnow(),
        },
    )
    return _stored(row)


async def statement_invoice(session: AsyncSession, *, actor: Actor, statement_id: int) -> EDocument:
    """The Peppol invoice of an approved statement, fixed once issued."""
    municipality_id = municipality_scope(actor, Permission.SETTLEMENT_VIEW, NotMunicipalStaff)
    municipality = await municipalities.get(session, municipality_id=municipality_id)
    parts = await _approved_parts(session, municipality_id, statement_id)
    assert parts.statement.id is not None
    number = einvoice.invoice_number(
        municipality.code, parts.statement.month_on, parts.statement.id
    )
    stored = await repository.issued(session, number)
    if stored is not None:
        return _stored(stored)
    return await _issue(
        session,
        municipality_id=municipality_id,
        document=_invoice_document(municipality, parts),
        statement_id=parts.statement.id,
        adjustment_id=None,
    )


async def _lowering_adjustment(
    session: AsyncSession, municipality_id: int, adjustment_id: int
) -> Adjustment:
    adjustment = await repository.get_adjustment(session, adjustment_id)
    if (
        adjustment is None
        or adjustment.municipality_id != municipality_id
        or adjustment.amount_ore >= 0
    ):
        raise CreditNoteNotFound()
    return adjustment


async def adjustment_credit_note(
    session: AsyncSession, *, actor: Actor, adjustment_id: int
) -> EDocument:
    """The credit note of an adjustment that lowers an approved statement,
    referring to that statement's invoice."""
    municipality_id = municipality_scope(actor, Permission.SETTLEMENT_VIEW, NotMunicipalStaff)
    municipality = await municipalities.get(session, municipality_id=municipality_id)
    adjustment = await _lowering_adjustment(session, municipality_id, adjustment_id)
    assert adjustment.id is not None
    number = einvoice.credit_note_number(municipality.code, adjustment.id)
    stored = await repository.issued(session, number)
    if stored is not None:
        return _stored(stored)
    parts = await _approved_parts(session, municipality_id, adjustment.corrects_statement_id)
    # The credit note refers to the invoice as issued (issued first if need be).
    await statement_invoice(session, actor=actor, statement_id=adjustment.corrects_statement_id)
    corrected = _invoice_document(municipality, parts)
    statement = parts.statement
    assert statement.id is not None
    document = einvoice.adjustment_credit_note(
        number=number,
        adjustment_id=adjustment.id,
        amount_ore=adjustment.amount_ore,
        reason=adjustment.reason,
        issue_on=adjustment.created_at.astimezone(COPENHAGEN).date(),
        corrected_invoice=corrected.number,
        corrected_issue_on=corrected.issue_on,
        corrected_statement_id=statement.id,
        month_on=statement.month_on,
        period_end=last_of_month(statement.month_on),
        seller=corrected.seller,
        buyer=corrected.buyer,
        tax=corrected.tax,
        payment=corrected.payment,
        audit=corrected.audit_reference,
    )
    return await _issue(
        session,
        municipality_id=municipality_id,
        document=document,
        statement_id=statement.id,
        adjustment_id=adjustment.id,
    )


@dataclass(frozen=True)
class DocumentRow:
    kind: str
    number: str
    statement_id: int
    adjustment_id: int | None
    provider_id: int
    provider_name: str
    month_on: date
    issue_on: date
    amount_ore: int  # net of VAT; positive for both kinds


async def invoices_page(
    session: AsyncSession,
    *,
    actor: Actor,
    listing: Listing = ALL,
) -> Page[DocumentRow]:
    """Approved statements' invoices (their net amount without lowering
    adjustments), ordered by month and statement."""
    municipality_id, rows, total = await _fetch_page(
        session,
        repository.statements_page,
        actor=actor,
        listing=listing,
        provider_id=listing.provider_id,
        approved_only=True,
    )
    municipality = await municipalities.get(session, municipality_id=municipality_id)
    ids = [s.id for s, _ in rows if s.id is not None]
    lines, _ = await repository.lines_with_orders(session, ids)
    items = []
    for statement, provider_name in rows:
        assert statement.id is not None
        net = sum(
            line.amount_ore
            for line in lines
            if line.statement_id == statement.id
            and not (line.kind == "adjustment" and line.amount_ore < 0)
        )
        items.append(
            DocumentRow(
                kind="invoice",
                number=einvoice.invoice_number(municipality.code, statement.month_on, statement.id),
                statement_id=statement.id,
                adjustment_id=None,
                provider_id=statement.provider_id,
                provider_name=provider_name,
                month_on=statement.month_on,
                issue_on=_local_day(statement),
                amount_ore=net,
            )
        )
    return Page(items, listing.page, listing.size, total)


async def credit_notes_page(
    session: AsyncSession,
    *,
    actor: Actor,
    listing: Listing = ALL,
) -> Page[DocumentRow]:
    """Credit notes (lowering adjustments), by the corrected statement's month."""
    municipality_id, rows, total = await _fetch_page(
        session,
        repository.lowering_adjustments_page,
        actor=actor,
        listing=listing,
        provider_id=listing.provider_id,
    )
    municipality = await municipalities.get(session, municipality_id=municipality_id)
    items = []
    for adjustment, statement, provider_name in rows:
        assert adjustment.id is not None and statement.id is not None
        items.append(
            DocumentRow(
                kind="credit_note",
                number=einvoice.credit_note_number(municipality.code, adjustment.id),
                statement_id=statement.id,
                adjustment_id=adjustment.id,
                provider_id=adjustment.provider_id,
                provider_name=provider_name,
                month_on=statement.month_on,
                issue_on=adjustment.created_at.astimezone(COPENHAGEN).date(),
                amount_ore=-adjustment.amount_ore,
            )
        )
    return Page(items, listing.page, listing.size, total)


# --- statements, payment files, co-payment statements -----------------------------------


@dataclass(frozen=True)
class StatementBundle:
    statement: Statement
    provider_name: str
    lines: list[StatementLine]
    orders: dict[int, list[int]]  # line id → order ids


async def statements_page(
    session: AsyncSession,
    *,
    actor: Actor,
    listing: Listing = ALL,
) -> Page[StatementBundle]:
    """Statements (drafts too, marked by status) with their lines and orders."""
    _, rows, total = await _fetch_page(
        session,
        repository.statements_page,
        actor=actor,
        listing=listing,
        provider_id=listing.provider_id,
        approved_only=False,
    )
    lines, orders = await repository.lines_with_orders(
        session, [s.id for s, _ in rows if s.id is not None]
    )
    items = [
        StatementBundle(
            statement=statement,
            provider_name=name,
            lines=[line for line in lines if line.statement_id == statement.id],
            orders=orders,
        )
        for statement, name in rows
    ]
    return Page(items, listing.page, listing.size, total)


async def payment_files_page(
    session: AsyncSession,
    *,
    actor: Actor,
    listing: Listing = ALL,
) -> Page[PaymentFile]:
    _, files, total = await _fetch_page(
        session,
        repository.payment_files_page,
        actor=actor,
        listing=listing,
        provider_id=listing.provider_id,
    )
    return Page(files, listing.page, listing.size, total)


async def payment_file(session: AsyncSession, *, actor: Actor, file_id: int) -> PaymentFile:
    """A payment file as sent to the bank (reading needs no payout rights)."""
    from market.payouts.exceptions import PaymentFileNotFound

    municipality_id = municipality_scope(actor, Permission.SETTLEMENT_VIEW, NotMunicipalStaff)
    found = await repository.get_payment_file(session, file_id)
    if found is None or found.municipality_id != municipality_id:
        raise PaymentFileNotFound()
    return found


async def copayment_statements_page(
    session: AsyncSession,
    *,
    actor: Actor,
    listing: Listing = ALL,
) -> Page[CopaymentStatement]:
    _, rows, total = await _fetch_page(
        session,
        repository.copayment_statements_page,
        actor=actor,
        permission=Permission.COPAYMENT_VIEW,
        listing=listing,
    )
    return Page(rows, listing.page, listing.size, total)


# --- settings ---------------------------------------------------------------------------


def clean_gln(text: str) -> str:
    from stdnum import ean
    from stdnum.exceptions import ValidationError

    value = "".join(text.split())
    try:
        cleaned = str(ean.validate(value))
    except ValidationError as exc:
        raise InvalidGln(text.strip()[:20]) from exc
    if len(cleaned) != 13:
        raise InvalidGln(text.strip()[:20])
    return cleaned


async def save_settings(
    session: AsyncSession, *, actor: Actor, gln: str, buyer_reference: str, pain_version: str
) -> Municipality:
    """The municipality's e-invoice endpoint and reference and its bank's
    payment file version; checked, stored and audited together."""
    municipality_id = municipality_scope(actor, Permission.PAYOUT_MANAGE, NotMunicipalStaff)
    clean = clean_gln(gln)
    reference = " ".join(buyer_reference.split())
    if not 1 <= len(reference) <= 100:
        raise InvalidBuyerReference()
    if pain_version not in PAIN_VERSIONS:
        raise UnknownPainVersion()
    municipality = await municipalities.set_finance_settings(
        session,
        municipality_id=municipality_id,
        peppol_gln=clean,
        invoice_buyer_reference=reference,
        pain001_version=pain_version,
    )
    await audit.record(
        session,
        actor=actor,
        action="municipality.finance_settings_set",
        entity_type="municipality",
        entity_id=municipality_id,
        municipality_id=municipality_id,
        data={"gln": clean, "buyer_reference": reference, "pain001_version": pain_version},
    )
    return municipality
