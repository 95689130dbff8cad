"""A CPR number never travels in a URL. A request whose query string holds
something that looks like one is refused with a 400 (the sentence does not
repeat it), and the query string is blanked in the ASGI scope before anything
else runs, so the server's access log line (uvicorn, also under gunicorn's
uvicorn worker, formats it from the scope when the response starts) never
holds the number."""

import re
from urllib.parse import unquote_plus

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from market.errors import N_, AppError

# Ten digits as people write a CPR number: 0707414321, 070741-4321, 07.07.41 4321.
_CPR = re.compile(r"(?<!\d)\d{2}[.\-/ ]?\d{2}[.\-/ ]?\d{2}[\s.\-/]*\d{4}(?!\d)")
REDACTED_QUERY = b"removed=cpr"
_FLAG = "cpr_in_url"


class CprInUrl(AppError):
    status_code = 400
    code = "cpr_in_url"

    def __init__(self) -> None:
        super().__init__(
            N_(
                "A CPR number must never be part of a web address, so this request was "
                "refused. Search with the search form instead (in the API: POST "
                "/api/v1/citizens/search with the number in the body)."
            )
        )


def holds_cpr(query_string: bytes) -> bool:
    return bool(_CPR.search(unquote_plus(query_string.decode("latin-1"))))


class CprInUrlMiddleware:
    """Outermost layer: blanks a query string holding a CPR number and marks the
    request, so ``refuse_cpr_in_url`` answers it with the 400."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope.get("query_string")
            and holds_cpr(scope["query_string"])
        ):
            scope["query_string"] = REDACTED_QUERY
            scope.setdefault("state", {})[_FLAG] = True
        await self.app(scope, receive, send)


async def refuse_cpr_in_url(request: Request) -> None:
    """An app-wide dependency (market.app), so the refusal is a page or JSON like
    every other error."""
    if request.scope.get("state", {}).get(_FLAG):
        raise CprInUrl()
