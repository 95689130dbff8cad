"""Health, metrics and the dead-letter page. /livez says the process answers;
/readyz says whether this instance should take traffic, with the reasons."""

import hmac
import ipaddress
import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from market.auth.dependencies import Session, require
from market.auth.permissions import Actor, Permission, mark_rule
from market.operations import metrics, service
from market.templating import render

router = APIRouter(include_in_schema=False)

OutboxAdmin = Annotated[Actor, Depends(require(Permission.OUTBOX_MANAGE))]


async def _probe() -> None:
    """For health checks and metrics: whoever asks gets the same answer, so the
    request's cookie or token is not looked at (/metrics checks its own token)."""
    return None


probe = mark_rule(_probe, "probe")
Probe = Annotated[None, Depends(probe)]


@router.get("/livez")
async def livez(_: Probe) -> dict[str, str]:
    return {"status": "ok"}


async def _readiness(request: Request, session: Session) -> Response:
    ready = await service.readiness(session, settings=request.app.state.settings)
    return JSONResponse(
        {
            "status": "ok" if ready.ok else "unavailable",
            "reasons": ready.reasons,
            "checks": ready.checks,
        },
        status_code=200 if ready.ok else 503,
    )


@router.get("/readyz")
async def readyz(request: Request, session: Session, _: Probe) -> Response:
    return await _readiness(request, session)


@router.get("/healthz")
async def healthz(request: Request, session: Session, _: Probe) -> Response:
    """Kept for existing checks; the same answer as /readyz."""
    return await _readiness(request, session)


def _may_scrape(request: Request) -> bool:
    """With MARKET_METRICS_TOKEN set, a matching bearer token; without it, loopback only."""
    token = request.app.state.settings.metrics_token
    if token is not None:
        given = request.headers.get("authorization", "")
        expected = f"Bearer {token.get_secret_value()}"
        return hmac.compare_digest(given.encode(), expected.encode())
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@router.get("/metrics")
async def metrics_page(request: Request, session: Session, _: Probe) -> Response:
    if not _may_scrape(request):
        return Response(
            json.dumps({"error": "forbidden", "detail": "Metrics need the metrics token."}),
            status_code=403,
            media_type="application/json",
        )
    figures = await service.figures(session)
    return Response(metrics.render(figures), media_type=metrics.CONTENT_TYPE)


@router.get("/operations/dead-letters", response_class=HTMLResponse)
async def dead_letters(request: Request, session: Session, actor: OutboxAdmin) -> Response:
    messages = await service.dead_letters(session, actor=actor)
    return render(
        request,
        "operations/dead_letters.html",
        {
            "messages": [service.describe(m) for m in messages],
            "retried": request.query_params.get("retried") == "1",
        },
    )


@router.post("/operations/dead-letters/{message_id}/retry", response_class=HTMLResponse)
async def retry_dead_letter(
    request: Request, session: Session, actor: OutboxAdmin, message_id: int
) -> Response:
    await service.retry_dead_letter(session, actor=actor, message_id=message_id)
    return RedirectResponse("/operations/dead-letters?retried=1", status_code=303)
