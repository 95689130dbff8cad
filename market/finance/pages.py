"""Finance pages: a month's e-invoices and credit notes to download (the
municipal admin and the auditor), the accountant's exports, and the
municipality's e-invoice and payment-file settings (the municipal admin)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from market.auth.dependencies import Session, require
from market.auth.permissions import Actor, Permission
from market.clock import parse_month
from market.errors import AppError
from market.finance import exports, service
from market.municipalities import service as municipalities
from market.settlement import service as settlement
from market.templating import render

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Actor, Depends(require(Permission.SETTLEMENT_VIEW))]
Admin = Annotated[Actor, Depends(require(Permission.PAYOUT_MANAGE))]


def _download(content: bytes, media_type: str, filename: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


async def _page(
    request: Request,
    session: Session,
    actor: Actor,
    month: str | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    month_on = parse_month(month) if month else None
    assert actor.municipality_id is not None
    listing = service.Listing(month_on=month_on, size=200)
    invoices = await service.invoices_page(session, actor=actor, listing=listing)
    credit_notes = await service.credit_notes_page(session, actor=actor, listing=listing)
    municipality = await municipalities.get(session, municipality_id=actor.municipality_id)
    return render(
        request,
        "finance/overview.html",
        {
            "month": month or "",
            "invoices": invoices,
            "credit_notes": credit_notes,
            "municipality": municipality,
            "pain_versions": service.PAIN_VERSIONS,
            "ready": bool(municipality.peppol_gln and municipality.invoice_buyer_reference),
            "done": request.query_params.get("done"),
            **context,
        },
        status_code=status_code,
    )


@router.get("/finance", response_class=HTMLResponse)
async def overview(
    request: Request, session: Session, actor: Viewer, month: str | None = None
) -> Response:
    if actor.municipality_id is None:
        from market.finance.exceptions import NotMunicipalStaff

        raise NotMunicipalStaff()
    return await _page(request, session, actor, month or None)


@router.post("/finance/settings", response_class=HTMLResponse)
async def save_settings(
    request: Request,
    session: Session,
    actor: Admin,
    gln: Annotated[str, Form()] = "",
    buyer_reference: Annotated[str, Form()] = "",
    pain_version: Annotated[str, Form()] = "",
) -> Response:
    try:
        await service.save_settings(
            session,
            actor=actor,
            gln=gln,
            buyer_reference=buyer_reference,
            pain_version=pain_version,
        )
    except AppError as exc:
        await session.rollback()
        return await _page(
            request,
            session,
            actor,
            None,
            error=exc.sentence(),
            form={"gln": gln, "buyer_reference": buyer_reference, "pain_version": pain_version},
            status_code=exc.status_code,
        )
    return RedirectResponse("/finance?done=settings#settings", status_code=303)


@router.get("/finance/statements/{statement_id}/invoice.xml")
async def invoice_xml(session: Session, actor: Viewer, statement_id: int) -> Response:
    document = await service.statement_invoice(session, actor=actor, statement_id=statement_id)
    return _download(document.content, "application/xml", document.filename)


@router.get("/finance/credit-notes/{adjustment_id}.xml")
async def credit_note_xml(session: Session, actor: Viewer, adjustment_id: int) -> Response:
    document = await service.adjustment_credit_note(
        session, actor=actor, adjustment_id=adjustment_id
    )
    return _download(document.content, "application/xml", document.filename)


@router.get("/finance/statements/{statement_id}/export-da.csv")
async def danish_csv(session: Session, actor: Viewer, statement_id: int) -> Response:
    export = await settlement.statement_export(session, actor=actor, statement_id=statement_id)
    return _download(
        exports.danish_csv(export), "text/csv; charset=utf-8", f"opgoerelse-{statement_id}.csv"
    )


@router.get("/finance/statements/{statement_id}/export-machine.csv")
async def machine_csv(session: Session, actor: Viewer, statement_id: int) -> Response:
    export = await settlement.statement_export(session, actor=actor, statement_id=statement_id)
    return _download(
        exports.machine_csv(export), "text/csv; charset=utf-8", f"statement-{statement_id}.csv"
    )
