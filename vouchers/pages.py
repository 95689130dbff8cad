"""HTML pages of vouchers: one router of the aggregates' pages (citizens and
proxies, grants and caps, the welcome letter and letter-code sign-in). The order
keeps /citizens/new ahead of /citizens/{citizen_id}."""

from fastapi import APIRouter

from vouchers.citizens import pages as citizens
from vouchers.grants import pages as grants
from vouchers.letters import pages as letters

router = APIRouter(include_in_schema=False)
router.include_router(citizens.router)
router.include_router(grants.router)
router.include_router(letters.router)
