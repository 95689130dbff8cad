"""Danish first, English second, through gettext catalogues compiled from the
.po files at start-up (no build step). The request's language lives in a
context variable set by the language middleware."""

from contextvars import ContextVar
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from starlette.types import ASGIApp, Receive, Scope, Send

LANGUAGES = ("da", "en")
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGE_COOKIE = "market_lang"

current_language: ContextVar[str] = ContextVar("current_language", default="da")


@cache
def translations(language: str) -> Translations:
    po_path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not po_path.exists():
        return Translations()
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def gettext(message: str) -> str:
    return translations(current_language.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_language.get()).ngettext(singular, plural, n)


def sentence(message: str, params: dict[str, Any] | None = None) -> str:
    """A message id with {placeholders}, translated first and then filled, so
    translators see the whole sentence (AppError messages, statement lines)."""
    text = gettext(message)
    return text.format(**params) if params else text


def babel_locale(language: str | None = None) -> str:
    """The Babel locale for a language (default: the request's)."""
    return "da_DK" if (language or current_language.get()) == "da" else "en_GB"


def choose_language(cookie_value: str | None, accept_language: str | None, default: str) -> str:
    if cookie_value in LANGUAGES:
        return cookie_value
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return default


class LanguageMiddleware:
    def __init__(self, app: ASGIApp, default: str) -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette.requests import HTTPConnection

        conn = HTTPConnection(scope)
        language = choose_language(
            conn.cookies.get(LANGUAGE_COOKIE), conn.headers.get("accept-language"), self.default
        )
        token = current_language.set(language)
        try:
            await self.app(scope, receive, send)
        finally:
            current_language.reset(token)
