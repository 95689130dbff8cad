"""API input and output of the order flow."""

from pydantic import BaseModel  # noqa: F401

# --- ordering ----------------------------------------------------------------------


# --- kitchen systems ---------------------------------------------------------------


# --- welfare alerts ----------------------------------------------------------------
