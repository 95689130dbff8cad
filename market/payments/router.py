"""Payments JSON API: a citizen's way of paying the co-payment; the Stripe webhook."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["payments"])
