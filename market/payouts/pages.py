"""Payout pages: pay approved statements, send Stripe transfers, make and
download payment files; the municipality's own account; the provider's
payout details."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from market.auth.dependencies import Session, require
from market.auth.permissions import Actor, Permission
from market.errors import N_, AppError
from market.i18n import gettext
from market.payments import service as payments
from market.payouts import service
from market.payouts.models import PayoutStatus
from market.templating import render
from providers.models import PayoutMethod

router = APIRouter(include_in_schema=False)

Payer = Annotated[Actor, Depends(require(Permission.PAYOUT_MANAGE))]
ProviderAdmin = Annotated[Actor, Depends(require(Permission.PROVIDER_PROFILE_EDIT))]

STATUS_LABELS = {
    PayoutStatus.PENDING: N_("Waiting to be paid"),
    PayoutStatus.SUBMITTED: N_("In a payment file at the bank"),
    PayoutStatus.PAID: N_("Paid"),
    PayoutStatus.FAILED: N_("Failed"),
}
METHOD_LABELS = {
    PayoutMethod.BANK_FILE: N_("Bank transfer (payment file)"),
    PayoutMethod.STRIPE_TRANSFER: N_("Stripe transfer"),
}
DONE = {
    "paid": N_("The payout is recorded. It is paid with the next transfer or payment file."),
    "sent": N_("Stripe transfers sent: {paid} paid, {retrying} to be retried, {failed} failed."),
    "file": N_("The payment file is made. Download it and send it to the bank."),
    "file_paid": N_("The payment file is marked as paid."),
    "requeued": N_("The payout will be tried again."),
    "refused": N_("The payout is marked as refused by the bank. Fix the account, then try again."),
    "account": N_("The municipality's account is saved."),
}


def _labels() -> dict[str, Any]:
    return {
        "statuses": STATUS_LABELS,
        "methods": METHOD_LABELS,
        "mask": service.mask_account,
    }


async def _overview(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    notice: str | None = None,
    error: AppError | None = None,
) -> Response:
    if error is not None:
        # Show what is stored: the refused change is rolled back, not half-shown.
        await session.rollback()
    view = await service.overview(session, actor=actor)
    return render(
        request,
        "payouts/overview.html",
        {**_labels(), "view": view, "notice": notice, "error": error.sentence() if error else None},
        status_code=error.status_code if error else 200,
    )


@router.get("/payouts", response_class=HTMLResponse)
async def payouts_page(request: Request, session: Session, actor: Payer) -> Response:
    done = request.query_params.get("done", "")
    notice = DONE.get(done)
    text = gettext(notice) if notice else None
    if text and done == "sent":
        params = {k: request.query_params.get(k, "0") for k in ("paid", "retrying", "failed")}
        text = text.format(**{k: v if v.isdigit() else "0" for k, v in params.items()})
    return await _overview(request, session, actor, notice=text)


@router.post("/payouts/pay", response_class=HTMLResponse)
async def pay_statements(
    request: Request,
    session: Session,
    actor: Payer,
    statement_ids: Annotated[list[int], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
) -> Response:
    try:
        await service.create_payouts(session, actor=actor, statement_ids=statement_ids)
    except AppError as exc:
        return await _overview(request, session, actor, error=exc)
    return RedirectResponse("/payouts?done=paid", status_code=303)


@router.post("/payouts/send", response_class=HTMLResponse)
async def send_now(request: Request, session: Session, actor: Payer) -> Response:
    """Sends the municipality's due Stripe transfers now instead of at the next tick."""
    try:
        municipality_id = service.may_send_now(actor)
    except AppError as exc:
        return await _overview(request, session, actor, error=exc)
    settings = request.app.state.settings
    # Nothing may call Stripe while a transaction is open: end the request's
    # (it has written nothing) and let the worker open its own, short ones.
    await session.commit()
    report = await service.send_transfers(
        request.app.state.session_provider,
        settings=settings,
        gateway=payments.get_gateway(settings),
        municipality_id=municipality_id,
        actor=actor,
    )
    return RedirectResponse(
        f"/payouts?done=sent&paid={len(report.paid)}&retrying={len(report.retrying)}"
        f"&failed={len(report.failed)}",
        status_code=303,
    )


@router.post("/payouts/{payout_id}/bank-refused", response_class=HTMLResponse)
async def bank_refused(
    request: Request, session: Session, actor: Payer, payout_id: int
) -> Response:
    form = await request.form()
    try:
        await service.record_bank_refusal(
            session, actor=actor, payout_id=payout_id, reason=str(form.get("reason") or "")
        )
    except AppError as exc:
        return await _overview(request, session, actor, error=exc)
    return RedirectResponse("/payouts?done=refused", status_code=303)


@router.post("/payouts/{payout_id}/requeue", response_class=HTMLResponse)
async def requeue(request: Request, session: Session, actor: Payer, payout_id: int) -> Response:
    try:
        await service.requeue_payout(session, actor=actor, payout_id=payout_id)
    except AppError as exc:
        return await _overview(request, session, actor, error=exc)
    return RedirectResponse("/payouts?done=requeued", status_code=303)


@router.post("/payouts/files", response_class=HTMLResponse)
async def make_file(request: Request, session: Session, actor: Payer) -> Response:
    try:
        await service.create_payment_file(session, actor=actor)
    except AppError as exc:
        return await _overview(request, session, actor, error=exc)
    return RedirectResponse("/payouts?done=file", status_code=303)


@router.get("/payouts/files/{file_id}/download")
async def download_file(session: Session, actor: Payer, file_id: int) -> Response:
    download = await service.download_payment_file(session, actor=actor, file_id=file_id)
    return Response(
        content=download.content,
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{download.filename}"'},
    )


@router.post("/payouts/files/{file_id}/paid", response_class=HTMLResponse)
async def file_paid(request: Request, session: Session, actor: Payer, file_id: int) -> Response:
    try:
        await service.mark_file_paid(session, actor=actor, file_id=file_id)
    except AppError as exc:
        return await _overview(request, session, actor, error=exc)
    return RedirectResponse("/payouts?done=file_paid", status_code=303)


@router.post("/payouts/account", response_class=HTMLResponse)
async def municipality_account(
    request: Request,
    session: Session,
    actor: Payer,
    iban: Annotated[str, Form()] = "",
    bic: Annotated[str, Form()] = "",
) -> Response:
    try:
        await service.set_municipality_account(session, actor=actor, iban=iban, bic=bic)
    except AppError as exc:
        return await _overview(request, session, actor, error=exc)
    return RedirectResponse("/payouts?done=account", status_code=303)


# --- the provider's payout details ----------------------------------------------------


@router.get("/provider/payout-details", response_class=HTMLResponse)
async def payout_details(request: Request, session: Session, actor: ProviderAdmin) -> Response:
    provider = await service.payout_details(session, actor=actor)
    return render(
        request,
        "payouts/provider_details.html",
        {
            "provider": provider,
            "methods": METHOD_LABELS,
            "values": {
                "method": provider.payout_method.value,
                "iban": provider.payout_iban or "",
                "bic": provider.payout_bic or "",
                "stripe_account_id": provider.stripe_account_id or "",
            },
            "saved": request.query_params.get("done") == "saved",
        },
    )


@router.post("/provider/payout-details", response_class=HTMLResponse)
async def save_payout_details(
    request: Request,
    session: Session,
    actor: ProviderAdmin,
    method: Annotated[str, Form()] = "",
    iban: Annotated[str, Form()] = "",
    bic: Annotated[str, Form()] = "",
    stripe_account_id: Annotated[str, Form()] = "",
) -> Response:
    try:
        await service.save_payout_details(
            session,
            actor=actor,
            method=method,
            iban=iban,
            bic=bic,
            stripe_account_id=stripe_account_id,
        )
    except AppError as exc:
        await session.rollback()
        provider = await service.payout_details(session, actor=actor)
        return render(
            request,
            "payouts/provider_details.html",
            {
                "provider": provider,
                "methods": METHOD_LABELS,
                "values": {
                    "method": method,
                    "iban": iban,
                    "bic": bic,
                    "stripe_account_id": stripe_account_id,
                },
                "error": exc.sentence(),
            },
            status_code=exc.status_code,
        )
    return RedirectResponse("/provider/payout-details?done=saved", status_code=303)
