"""Payout pages: pay approved statements, payment files."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
