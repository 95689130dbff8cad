"""JSON API of the order flow under /api/v1. Sections: ordering (citizens,
proxies, case workers); kitchen systems (provider API tokens); welfare alerts."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["orders"])

# --- ordering ----------------------------------------------------------------------


# --- kitchen systems ---------------------------------------------------------------


# --- welfare alerts ----------------------------------------------------------------
