"""JSON API of the providers domain under /api/v1 (each part's router has
the prefix, so the shell's route walker sees full paths), one router per part,
included in the order the routes were written. Errors come back as
{"error": code, "detail": sentence} through the shell's handlers."""

from fastapi import APIRouter

from providers.applications import router as applications
from providers.approvals import router as approvals
from providers.offers import router as offers
from providers.registry import router as registry
from providers.standards import router as standards

router = APIRouter()
for part in (registry, standards, applications, approvals, offers):
    router.include_router(part.router)
