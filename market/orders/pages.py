"""The HTML pages of market.orders, mounted by market.app as one router. Each
part keeps its own pages; they are included here in the order the routes
have always been matched."""

from fastapi import APIRouter

from market.orders.alerts import pages as alerts
from market.orders.alerts.pages import alert_badge
from market.orders.citizen import pages as citizen
from market.orders.fulfilment import pages as fulfilment
from market.orders.kitchen import pages as kitchen
from market.orders.kitchen.pages import KITCHEN_STATUS_LABELS
from market.orders.standing import pages as standing

router = APIRouter(include_in_schema=False)
for part in (
    citizen.router,
    standing.router,
    fulfilment.router,
    kitchen.router,
    alerts.router,
    citizen.payment_router,
):
    router.include_router(part)

__all__ = ["KITCHEN_STATUS_LABELS", "alert_badge", "router"]
