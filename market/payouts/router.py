"""Payout JSON API: pay approved statements, payment files."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["payouts"])
