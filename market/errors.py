"""One error hierarchy. Services raise these; handlers turn them into JSON for
/api and into a page for people. Messages are English msgids translated at the
edge, with {placeholders} filled from ``params``."""

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from fastapi import FastAPI, Request


def N_(message: str) -> str:
    """Marks a message for translation where it is defined; it is translated when shown."""
    return message


QUOTE_LIMIT = 120


def quote_short(value: Any, limit: int = QUOTE_LIMIT) -> Any:
    """A text longer than ``limit`` characters cut to a prefix and an ellipsis."""
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "…"
    return value


class AppError(Exception):
    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    # True where the refusal itself must be stored, e.g. a counted failed login.
    keeps_changes: ClassVar[bool] = False

    def __init__(self, message: str, /, **params: Any) -> None:
        # A sentence quotes what the caller sent at most as a short prefix: a
        # megabyte field must not come back in the answer (or a log line).
        params = {name: quote_short(value) for name, value in params.items()}
        super().__init__(message.format(**params) if params else message)
        self.message = message
        self.params = params

    def sentence(self) -> str:
        """The message in the request's language, filled in."""
        from market.i18n import sentence

        return sentence(self.message, self.params)


class InvalidInput(AppError):
    status_code = 422
    code = "invalid_input"


class NotAuthenticated(AppError):
    status_code = 401
    code = "not_authenticated"


class PermissionDenied(AppError):
    status_code = 403
    code = "permission_denied"


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    """Also the error for an illegal state transition."""

    status_code = 409
    code = "conflict"


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(AppError):
    status_code = 415
    code = "unsupported_media_type"


class TooManyRequests(AppError):
    status_code = 429
    code = "too_many_requests"


class IllegalTransition(Conflict):
    code = "illegal_transition"


def install_handlers(app: "FastAPI") -> None:
    """JSON for /api and webhooks, a page for people; a sentence either way."""
    from fastapi.exceptions import RequestValidationError
    from sqlalchemy.exc import DBAPIError
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.responses import JSONResponse, RedirectResponse, Response

    from market.i18n import gettext
    from market.templating import render

    def wants_json(request: "Request") -> bool:
        path = request.url.path
        return (
            path.startswith(("/api/", "/webhooks/"))
            or "application/json" in request.headers.get("accept", "").split(",")[0]
        )

    def respond(request: "Request", status: int, code: str, message: str) -> Response:
        if wants_json(request):
            return JSONResponse({"error": code, "detail": message}, status_code=status)
        return render(
            request, "shared/error.html", {"status": status, "message": message}, status_code=status
        )

    async def on_app_error(request: "Request", exc: AppError) -> Response:
        if exc.keeps_changes:
            request.state.commit_despite_error = True
        if isinstance(exc, NotAuthenticated) and not wants_json(request):
            if request.method == "GET":
                return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return respond(request, exc.status_code, exc.code, exc.sentence())

    async def on_validation_error(request: "Request", exc: RequestValidationError) -> Response:
        problems = []
        for error in exc.errors():
            where = quote_short(".".join(str(p) for p in error.get("loc", ())[1:]) or "input")
            problems.append(f"{where}: {quote_short(str(error.get('msg', 'invalid')), 200)}")
            if len(problems) == 5:  # a sentence, not a dump of every field
                break
        message = gettext("Some of the input is missing or not valid") + " — " + "; ".join(problems)
        return respond(request, 422, "invalid_input", message)

    async def on_http_error(request: "Request", exc: StarletteHTTPException) -> Response:
        messages = {
            404: "That page does not exist.",
            405: "That action is not possible here.",
            413: "The upload is too large.",
        }
        message = gettext(messages.get(exc.status_code, str(exc.detail)))
        return respond(request, exc.status_code, "http_error", message)

    async def on_number_out_of_range(request: "Request", exc: Exception) -> Response:
        # An id or count beyond what the database stores (SQLite: 64-bit,
        # PostgreSQL: 32-bit integers) is bad input, not a server fault.
        if isinstance(exc, DBAPIError) and not _out_of_range(exc):
            raise exc
        return respond(
            request,
            422,
            "invalid_input",
            gettext("A number in the request is too large. Check the number and try again."),
        )

    app.add_exception_handler(OverflowError, on_number_out_of_range)
    app.add_exception_handler(DBAPIError, on_number_out_of_range)
    app.add_exception_handler(AppError, on_app_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, on_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, on_http_error)  # type: ignore[arg-type]


def _out_of_range(exc: Exception) -> bool:
    """A PostgreSQL numeric-range error (SQLSTATE 22003), or asyncpg refusing to
    encode an integer argument that does not fit its column."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) == "22003":
        return True
    text = str(orig or exc)
    return "invalid input for query argument" in text and "out of" in text and "range" in text
