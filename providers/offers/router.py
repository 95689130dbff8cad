"""JSON API of how a provider takes orders: rotating the webhook secret."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from market.auth.dependencies import Session, require
from market.auth.permissions import Actor, Permission
from providers.offers import service as offers_service
from providers.schemas import (
    WebhookSecretOut,
)

router = APIRouter(prefix="/api/v1", tags=["providers"])
P = Permission


@router.post("/provider/webhook-secret/rotate", response_model=WebhookSecretOut)
async def rotate_webhook_secret(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(P.PROVIDER_PROFILE_EDIT))],
) -> WebhookSecretOut:
    """A new signing secret; the previous one keeps signing for the grace period."""
    profile = await offers_service.rotate_webhook_secret(
        session, actor=actor, settings=request.app.state.settings
    )
    assert profile.webhook_secret is not None
    return WebhookSecretOut(
        secret=profile.webhook_secret, previous_signs_until=profile.webhook_previous_secret_until
    )
