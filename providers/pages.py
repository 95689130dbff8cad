"""HTML pages of the providers domain, one router per part, included in the
order the routes were written (``/providers/register`` before
``/providers/{provider_id}``)."""

from fastapi import APIRouter

from providers.applications import pages as applications
from providers.approvals import pages as approvals
from providers.offers import pages as offers
from providers.registry import pages as registry
from providers.standards import pages as standards

router = APIRouter(include_in_schema=False)
for part in (registry, applications, standards, approvals, offers):
    router.include_router(part.router)
