"""Payment pages: the Stripe webhook. (How a citizen pays is chosen on pages
in market.orders, which may see citizens; payments may not.)"""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from market.auth.dependencies import Session
from market.auth.permissions import mark_rule
from market.config import Settings
from market.payments import service

router = APIRouter(include_in_schema=False)


async def _signed_by_stripe(request: Request) -> None:
    """Public: no session and no CSRF token (Stripe has neither). The request
    is authenticated by the signature over its raw body, checked by the service."""
    return None


signed_by_stripe = mark_rule(_signed_by_stripe, "public:signed-webhook")


@router.post("/webhooks/stripe", dependencies=[Depends(signed_by_stripe)])
async def stripe_webhook(request: Request, session: Session) -> JSONResponse:
    settings: Settings = request.app.state.settings
    receipt = await service.receive_stripe_event(
        session,
        payload=await request.body(),
        signature=request.headers.get("stripe-signature"),
        settings=settings,
    )
    return JSONResponse(
        {
            "received": True,
            "id": receipt.event_id,
            "duplicate": receipt.duplicate,
            "outcome": receipt.outcome,
        }
    )
