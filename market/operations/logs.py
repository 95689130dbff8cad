"""Logs a machine can read: one JSON object a line, each with the request id and
the acting user's and municipality's ids. Only ids: never a name, a CPR number,
a letter code or a query string (a search may carry personal data)."""

import logging
import logging.config
import re
import time
import uuid
from contextvars import ContextVar
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from market.config import Settings
from market.operations import metrics

REQUEST_ID_HEADER = "X-Request-ID"
# A request id from the proxy is kept only when it is short and plain, so a
# client cannot smuggle text (or personal data) into every log line.
_GOOD_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# The request's id and its Starlette state (where the auth dependency puts the actor).
_request: ContextVar[tuple[str, dict[str, Any]] | None] = ContextVar("request", default=None)

access_log = logging.getLogger("market.access")

LOG_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"


class RequestContextFilter(logging.Filter):
    """Adds request_id, user_id and municipality_id to every record logged while a request runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = _request.get()
        if current is not None:
            request_id, state = current
            record.request_id = request_id
            actor = state.get("actor")
            if actor is not None:
                record.user_id = actor.user_id
                record.municipality_id = actor.municipality_id
        return True


def logging_config(settings: Settings) -> dict[str, Any]:
    """One dictConfig for the app, `market serve` (uvicorn) and gunicorn. Uvicorn's
    own access log is off: it prints the query string; market.access replaces it."""
    formatter: dict[str, Any] = (
        {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": LOG_FIELDS,
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "timestamp": False,
        }
        if settings.log_format == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": "market.operations.logs.RequestContextFilter"}},
        "formatters": {"default": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["request"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["default"], "level": settings.log_level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "CRITICAL"},
            "gunicorn.error": {"handlers": [], "propagate": True},
            "gunicorn.access": {"handlers": [], "propagate": False, "level": "CRITICAL"},
            # httpx logs every URL it calls at INFO; the app's calls are logged by the app.
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
        },
    }


def configure_logging(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings))


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class RequestContextMiddleware:
    """Outermost layer: gives each request an id (X-Request-ID in and out), logs one
    access line with the route's template rather than the path, and times it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = (
            dict(scope["headers"]).get(REQUEST_ID_HEADER.lower().encode(), b"").decode("latin-1")
        )
        request_id = given if _GOOD_REQUEST_ID.match(given) else uuid.uuid4().hex
        state: dict[str, Any] = scope.setdefault("state", {})
        token = _request.set((request_id, state))
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_of(scope)
            metrics.observe_request(scope["method"], route, status, elapsed)
            access_log.info(
                "%s %s %s",
                scope["method"],
                route,
                status,
                extra={
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 1),
                },
            )
            _request.reset(token)
