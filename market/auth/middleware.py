import secrets
from http.cookies import SimpleCookie

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from market.auth.dependencies import CSRF_COOKIE


class CsrfCookieMiddleware:
    """Gives every browser a CSRF cookie before its first form is shown."""

    def __init__(self, app: ASGIApp, secure: bool) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or HTTPConnection(scope).cookies.get(CSRF_COOKIE):
            await self.app(scope, receive, send)
            return
        token = secrets.token_urlsafe(32)
        scope.setdefault("state", {})["new_csrf_token"] = token

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if CSRF_COOKIE + "=" not in " ".join(headers.getlist("set-cookie")):
                    cookie: SimpleCookie = SimpleCookie()
                    cookie[CSRF_COOKIE] = token
                    morsel = cookie[CSRF_COOKIE]
                    morsel["path"] = "/"
                    morsel["httponly"] = True
                    morsel["samesite"] = "Strict"
                    if self.secure:
                        morsel["secure"] = True
                    headers.append("set-cookie", morsel.OutputString())
            await send(message)

        await self.app(scope, receive, send_with_cookie)
