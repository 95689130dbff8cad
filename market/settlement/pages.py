"""Settlement pages: runs, statements, approval, drill-down, exports."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
