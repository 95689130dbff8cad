"""The OpenAPI document as the API really is: the error body every handler in
market.errors writes, the refusals each operation can answer with, and how a
caller proves who it is. Generated clients and schemathesis read this, so a
response the document does not describe is a bug in one or the other."""

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from market.auth.permissions import RULE_ATTRIBUTE

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {
            "type": "string",
            "description": "A stable code, e.g. not_found, conflict, invalid_input.",
        },
        "detail": {
            "type": "string",
            "description": "A sentence a person understands, in the request's language.",
        },
    },
}

SECURITY_SCHEMES: dict[str, Any] = {
    "sessionCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "market_session",
        "description": "The session cookie set by signing in on /login.",
    },
    "csrfHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRF-Token",
        "description": "With the session cookie on POST, PUT, PATCH and DELETE: "
        "the value of the market_csrf cookie (double submit).",
    },
    "bearerToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token (Authorization: Bearer …). Needs no CSRF header.",
    },
}

_REFUSALS = {
    "400": "The request cannot be read.",
    "401": "Not signed in, or the API token is unknown, revoked or expired.",
    "403": "Signed in, but this role, token or CSRF token does not allow it.",
    "404": "No such thing, or not one the caller may see.",
    "409": "Not possible in the thing's current state.",
    "413": "The request body is too large.",
    "415": "The uploaded file is of a type that is not accepted.",
    "422": "Some of the input is missing or not valid.",
    "429": "Too many attempts; wait and try again.",
}
_UNSAFE = frozenset({"post", "put", "patch", "delete"})


def route_rules(dependant: Dependant) -> list[str]:
    """The permission rules (``require:…``, ``public``, ``session``) a route
    declares through its dependencies, however deeply nested."""
    found: list[str] = []
    for dependency in dependant.dependencies:
        rule = getattr(dependency.call, RULE_ATTRIBUTE, None)
        if rule is not None:
            found.append(rule)
        found.extend(route_rules(dependency))
    return found


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, included routers flattened."""
    for route in routes:
        if hasattr(route, "original_router"):
            yield from api_routes(route.original_router.routes)
        elif isinstance(route, APIRoute):
            yield route


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _describe(operation: dict[str, Any], method: str, rules: list[str]) -> None:
    public = bool(rules) and all(rule.startswith("public") for rule in rules)
    codes = {"400", "404", "413", "422", "429"}
    if method in _UNSAFE:
        codes |= {"409", "415"}
    if not public:
        codes |= {"401", "403"}
    elif method in _UNSAFE:
        codes.add("403")  # a public form still needs its CSRF token
    responses = operation.setdefault("responses", {})
    for code in sorted(codes):
        responses[code] = _error_response(_REFUSALS[code])
    if public:
        operation["security"] = [{}, {"sessionCookie": []}, {"bearerToken": []}]
    elif method in _UNSAFE:
        operation["security"] = [{"sessionCookie": [], "csrfHeader": []}, {"bearerToken": []}]
    else:
        operation["security"] = [{"sessionCookie": []}, {"bearerToken": []}]


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    rules = {
        (method.lower(), route.path): route_rules(route.dependant)
        for route in api_routes(app.routes)
        if route.include_in_schema
        for method in route.methods or ()
    }
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if method in {"get", "post", "put", "patch", "delete", "head", "options"}:
                _describe(operation, method, rules.get((method, path), []))
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    # FastAPI's own 422 body is never sent: market.errors answers {"error", "detail"}.
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Error"] = ERROR_SCHEMA
    components["securitySchemes"] = SECURITY_SCHEMES
    app.openapi_schema = document
    return document


def install(app: FastAPI) -> None:
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
