"""Every route declares exactly one permission rule (require(...), public, or the
second-factor session rule). A new route without one fails here."""

from fastapi.routing import APIRoute
from starlette.routing import Mount

from market.auth.models import Role
from market.auth.permissions import ROLE_PERMISSIONS, RULE_ATTRIBUTE, Permission


def _rules(dependant) -> list[str]:
    found = []
    for dep in dependant.dependencies:
        rule = getattr(dep.call, RULE_ATTRIBUTE, None)
        if rule is not None:
            found.append(rule)
        found.extend(_rules(dep))
    return found


def _all_routes(routes):
    """Flattens included routers (FastAPI keeps them as nested router entries)."""
    for route in routes:
        if hasattr(route, "original_router"):
            yield from _all_routes(route.original_router.routes)
        else:
            yield route


def test_every_route_has_exactly_one_permission_rule(app):
    missing, doubled, checked = [], [], 0
    for route in _all_routes(app.routes):
        if isinstance(route, Mount):  # static files: public by nature
            continue
        if not isinstance(route, APIRoute):
            if route.path in {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}:
                continue
            missing.append(route.path)
            continue
        checked += 1
        rules = _rules(route.dependant)
        if not rules:
            missing.append(f"{sorted(route.methods)} {route.path}")
        elif len(rules) > 1:
            doubled.append(f"{sorted(route.methods)} {route.path}: {rules}")
    assert checked > 10
    assert not missing, f"routes without a permission rule: {missing}"
    assert not doubled, f"routes with more than one rule: {doubled}"


def test_every_permission_is_granted_to_some_role_and_every_role_is_mapped():
    granted = set().union(*ROLE_PERMISSIONS.values())
    assert set(Permission) == granted
    assert set(Role) == set(ROLE_PERMISSIONS)


def test_citizens_cannot_manage_standards_or_read_the_audit_log():
    citizen = ROLE_PERMISSIONS[Role.CITIZEN]
    assert Permission.STANDARD_EDIT not in citizen
    assert Permission.AUDIT_VIEW not in citizen
    assert Permission.APPLICATION_REVIEW not in ROLE_PERMISSIONS[Role.PROVIDER_ADMIN]
