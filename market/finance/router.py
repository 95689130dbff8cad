"""Finance JSON API for the municipality's own systems: read-only, paged
(page/size, stable order: month then id) and filtered by month and
provider. Every route needs a read permission only."""

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from market.auth.dependencies import Session, require
from market.auth.permissions import Actor, Permission
from market.clock import parse_month
from market.finance import exports, service
from market.finance.schemas import (
    CopaymentStatementOut,
    CopaymentStatementPage,
    EInvoiceOut,
    EInvoicePage,
    FinanceLineOut,
    FinanceStatementOut,
    PaymentFileOut,
    PaymentFilePage,
    StatementPage,
)
from market.settlement import explain
from market.settlement import exports as settlement_exports
from market.settlement import service as settlement
from market.settlement.models import StatementStatus

router = APIRouter(prefix="/api/v1/finance", tags=["finance"])

Viewer = Annotated[Actor, Depends(require(Permission.SETTLEMENT_VIEW))]
CopaymentViewer = Annotated[Actor, Depends(require(Permission.COPAYMENT_VIEW))]
# Payment files carry providers' account numbers: read with the payout read right.
PayoutViewer = Annotated[Actor, Depends(require(Permission.PAYOUT_VIEW))]
Month = Annotated[str | None, Query(description="Only this month, e.g. '2026-10'.")]
ProviderId = Annotated[int | None, Query(description="Only this provider.")]
PageNo = Annotated[int, Query(ge=1, description="From 1.")]
Size = Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)]

XML = "application/xml"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _binary(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": description,
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
        }
    }


def _month(month: str | None) -> Any:
    return None if month is None else parse_month(month)


def _attachment(content: bytes, media_type: str, filename: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


def _einvoice_out(row: service.DocumentRow) -> EInvoiceOut:
    url = (
        f"/api/v1/finance/statements/{row.statement_id}/invoice.xml"
        if row.adjustment_id is None
        else f"/api/v1/finance/credit-notes/{row.adjustment_id}.xml"
    )
    return EInvoiceOut(
        kind=row.kind,
        number=row.number,
        statement_id=row.statement_id,
        adjustment_id=row.adjustment_id,
        provider_id=row.provider_id,
        provider_name=row.provider_name,
        month=row.month_on.strftime("%Y-%m"),
        issue_date=row.issue_on,
        amount_ore=row.amount_ore,
        url=url,
    )


@router.get("/statements", response_model=StatementPage)
async def statements(
    session: Session,
    actor: Viewer,
    month: Month = None,
    provider_id: ProviderId = None,
    page: PageNo = 1,
    size: Size = 50,
) -> StatementPage:
    """Statements with their lines and the orders behind each line."""
    found = await service.statements_page(
        session, actor=actor, listing=service.Listing(_month(month), provider_id, page, size)
    )
    items = []
    for bundle in found.items:
        s = bundle.statement
        assert s.id is not None
        items.append(
            FinanceStatementOut(
                id=s.id,
                provider_id=s.provider_id,
                provider_name=bundle.provider_name,
                approval_id=s.approval_id,
                month=s.month_on.strftime("%Y-%m"),
                status=s.status.value,
                total_ore=s.total_ore,
                approved_at=s.approved_at,
                audit_chain_seq=s.audit_chain_seq,
                audit_chain_hash=s.audit_chain_hash,
                invoice_url=f"/api/v1/finance/statements/{s.id}/invoice.xml"
                if s.status == StatementStatus.APPROVED
                else None,
                lines=[
                    FinanceLineOut(
                        position=line.position,
                        kind=line.kind,
                        quantity=line.quantity,
                        unit_amount_ore=None
                        if line.unit_amount_ore is None
                        else str(line.unit_amount_ore),
                        rate_bp=line.rate_bp,
                        amount_ore=line.amount_ore,
                        explanation=explain.render(
                            line.explanation, json.loads(line.explanation_params_json)
                        ),
                        order_ids=bundle.orders.get(line.id or 0, []),
                    )
                    for line in bundle.lines
                ],
            )
        )
    return StatementPage(page=found.page, size=found.size, total=found.total, items=items)


@router.get("/einvoices", response_model=EInvoicePage)
async def einvoices(
    session: Session,
    actor: Viewer,
    month: Month = None,
    provider_id: ProviderId = None,
    kind: Annotated[
        str, Query(pattern="^(invoice|credit_note)$", description="'invoice' or 'credit_note'.")
    ] = "invoice",
    page: PageNo = 1,
    size: Size = 50,
) -> EInvoicePage:
    """E-invoices of approved statements, or credit notes of lowering
    adjustments (by the corrected statement's month)."""
    lister = service.invoices_page if kind == "invoice" else service.credit_notes_page
    found = await lister(
        session, actor=actor, listing=service.Listing(_month(month), provider_id, page, size)
    )
    return EInvoicePage(
        page=found.page,
        size=found.size,
        total=found.total,
        items=[_einvoice_out(row) for row in found.items],
    )


@router.get(
    "/statements/{statement_id}/invoice.xml",
    response_class=Response,
    responses=_binary(XML, "Peppol BIS Billing 3.0 UBL Invoice; the same bytes every time."),
)
async def statement_invoice(session: Session, actor: Viewer, statement_id: int) -> Response:
    document = await service.statement_invoice(session, actor=actor, statement_id=statement_id)
    return _attachment(document.content, XML, document.filename)


@router.get(
    "/credit-notes/{adjustment_id}.xml",
    response_class=Response,
    responses=_binary(XML, "Peppol BIS Billing 3.0 UBL CreditNote for a lowering adjustment."),
)
async def credit_note(session: Session, actor: Viewer, adjustment_id: int) -> Response:
    document = await service.adjustment_credit_note(
        session, actor=actor, adjustment_id=adjustment_id
    )
    return _attachment(document.content, XML, document.filename)


@router.get(
    "/statements/{statement_id}/export.csv",
    response_class=Response,
    responses=_binary(
        "text/csv", "Machine CSV: UTF-8, commas, ISO dates, øre, stable English columns."
    ),
)
async def statement_machine_csv(session: Session, actor: Viewer, statement_id: int) -> Response:
    export = await settlement.statement_export(session, actor=actor, statement_id=statement_id)
    return _attachment(
        exports.machine_csv(export), "text/csv; charset=utf-8", f"statement-{statement_id}.csv"
    )


@router.get(
    "/statements/{statement_id}/export-da.csv",
    response_class=Response,
    responses=_binary("text/csv", "Danish CSV: UTF-8 with BOM, semicolons, decimal comma, kroner."),
)
async def statement_danish_csv(session: Session, actor: Viewer, statement_id: int) -> Response:
    export = await settlement.statement_export(session, actor=actor, statement_id=statement_id)
    return _attachment(
        exports.danish_csv(export),
        "text/csv; charset=utf-8",
        f"opgoerelse-{statement_id}.csv",
    )


@router.get(
    "/statements/{statement_id}/export.xlsx",
    response_class=Response,
    responses=_binary(XLSX, "Workbook: amounts in kroner as numbers, dates as dates."),
)
async def statement_xlsx(session: Session, actor: Viewer, statement_id: int) -> Response:
    export = await settlement.statement_export(session, actor=actor, statement_id=statement_id)
    content = await run_in_threadpool(settlement_exports.statement_xlsx, export)
    return _attachment(content, XLSX, f"statement-{statement_id}.xlsx")


@router.get("/payment-files", response_model=PaymentFilePage)
async def payment_files(
    session: Session,
    actor: PayoutViewer,
    month: Annotated[
        str | None, Query(description="Only files paying statements of this month.")
    ] = None,
    provider_id: Annotated[
        int | None, Query(description="Only files paying this provider.")
    ] = None,
    page: PageNo = 1,
    size: Size = 50,
) -> PaymentFilePage:
    found = await service.payment_files_page(
        session, actor=actor, listing=service.Listing(_month(month), provider_id, page, size)
    )
    items = []
    for f in found.items:
        assert f.id is not None
        items.append(
            PaymentFileOut(
                id=f.id,
                message_id=f.message_id,
                payouts=f.payouts,
                total_ore=f.total_ore,
                sha256=f.sha256,
                created_at=f.created_at,
                paid_at=f.paid_at,
                url=f"/api/v1/finance/payment-files/{f.id}.xml",
            )
        )
    return PaymentFilePage(page=found.page, size=found.size, total=found.total, items=items)


@router.get(
    "/payment-files/{file_id}.xml",
    response_class=Response,
    responses=_binary(XML, "ISO 20022 pain.001 credit transfer file, as sent to the bank."),
)
async def payment_file(session: Session, actor: PayoutViewer, file_id: int) -> Response:
    found = await service.payment_file(session, actor=actor, file_id=file_id)
    return _attachment(found.content.encode("utf-8"), XML, f"pain001-{found.id}.xml")


@router.get("/copayment-statements", response_model=CopaymentStatementPage)
async def copayment_statements(
    session: Session,
    actor: CopaymentViewer,
    month: Month = None,
    page: PageNo = 1,
    size: Size = 50,
) -> CopaymentStatementPage:
    """Citizens' co-payment statements (by citizen id; no names or CPR numbers)."""
    found = await service.copayment_statements_page(
        session, actor=actor, listing=service.Listing(_month(month), None, page, size)
    )
    items = []
    for c in found.items:
        assert c.id is not None
        items.append(
            CopaymentStatementOut(
                id=c.id,
                citizen_id=c.citizen_id,
                month=c.month_on.strftime("%Y-%m"),
                sequence=c.sequence,
                total_ore=c.total_ore,
                lines=c.lines,
                issued_at=c.issued_at,
            )
        )
    return CopaymentStatementPage(page=found.page, size=found.size, total=found.total, items=items)
