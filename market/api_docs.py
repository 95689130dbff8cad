"""The API documentation page (/docs) with Swagger UI's script and style served
from this site (the swagger-ui-py package: Swagger UI 5, which reads OpenAPI
3.1), never from a public CDN, under a content security policy that allows
exactly its one inline script by hash. ReDoc, which has no local bundle, is
switched off."""

import base64
import hashlib
import re
from pathlib import Path
from typing import Annotated

import swagger_ui
from fastapi import APIRouter, Depends
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from market.auth.dependencies import public
from market.auth.permissions import Actor

ASSETS = "/static/swagger-ui"

router = APIRouter(include_in_schema=False)


def assets() -> StaticFiles:
    return StaticFiles(directory=Path(swagger_ui.__file__).parent / "static")


def _page(title: str) -> tuple[bytes, str]:
    page = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title=title,
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
    )
    body = bytes(page.body)
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in re.findall(r"<script>(.*?)</script>", body.decode(), flags=re.DOTALL)
    )
    policy = (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    )
    return body, policy


_BODY, _POLICY = _page("Velfærdsmarked — API")


@router.get("/docs", response_class=HTMLResponse)
async def docs(_: Annotated[Actor | None, Depends(public)]) -> HTMLResponse:
    return HTMLResponse(_BODY, headers={"Content-Security-Policy": _POLICY})
