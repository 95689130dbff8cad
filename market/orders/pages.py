"""HTML pages of the order flow. Sections: citizens, proxies and case workers;
the provider's kitchen; welfare alerts."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)

# --- citizens, proxies and case workers ---------------------------------------


# --- the provider's kitchen ----------------------------------------------------


# --- welfare alerts --------------------------------------------------------------
