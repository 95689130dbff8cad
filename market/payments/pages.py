"""Payment pages: a citizen's way of paying the co-payment; the Stripe webhook."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
