"""The finance API is for a read-only finance token: every route under
/api/v1/finance is a GET and needs exactly one read permission, never a
write one, so the finance.read scope (settlement.view, copayment.view and
payout.view, nothing else) can use all of it."""

from fastapi.routing import APIRoute

from market.auth.permissions import Permission
from tests.market.test_permissions import _all_routes, _rules

READ = {
    f"require:{Permission.SETTLEMENT_VIEW}",
    f"require:{Permission.COPAYMENT_VIEW}",
    f"require:{Permission.PAYOUT_VIEW}",
}


def test_every_finance_route_is_a_get_with_a_read_permission(app):
    finance = [
        route
        for route in _all_routes(app.routes)
        if isinstance(route, APIRoute) and route.path.startswith("/api/v1/finance")
    ]
    assert len(finance) >= 10
    for route in finance:
        assert route.methods == {"GET"}, route.path
        assert _rules(route.dependant) in ([rule] for rule in READ), route.path
