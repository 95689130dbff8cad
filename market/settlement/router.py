"""Settlement JSON API: runs, statements, approval, drill-down, exports."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["settlement"])
