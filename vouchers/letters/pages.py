"""HTML pages of the welcome letter: staff print it (with a new one-time code),
and a citizen or proxy signs in once with the code from it."""

from typing import Annotated
from urllib.parse import quote

import segno
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from market.auth.dependencies import Session, public
from market.auth.pages import signed_in_redirect
from market.auth.permissions import Actor
from market.errors import AppError
from market.i18n import gettext
from market.templating import render
from vouchers.letters import service as letters_service
from vouchers.web import LABELS, StaffEdit, form_error, settings_of

router = APIRouter(include_in_schema=False)

# --- the welcome letter ------------------------------------------------------------


def letter_url(request: Request, code: str | None) -> str | None:
    """The QR link: the code rides in the fragment (after #), which a browser never
    sends to a server, so it reaches no access log, proxy or Referer. The sign-in
    page's small script copies it into the field; the person presses one button.
    Without script the field is empty and the code printed under the QR is typed."""
    if code is None:
        return None
    return str(request.base_url).rstrip("/") + "/letter-code#" + quote(code)


@router.get("/citizens/{citizen_id}/letter", response_class=HTMLResponse)
async def letter(request: Request, session: Session, actor: StaffEdit, citizen_id: int) -> Response:
    view = await letters_service.letter(
        session, actor=actor, settings=settings_of(request), citizen_id=citizen_id
    )
    url = letter_url(request, view.code)
    qr_svg = (
        segno.make(url, error="m").svg_inline(scale=5, title=gettext("QR code to sign in"))
        if url
        else None
    )
    return render(
        request, "vouchers/letter.html", {**LABELS, "letter": view, "url": url, "qr_svg": qr_svg}
    )


@router.post("/citizens/{citizen_id}/letter-code")
async def reissue_letter_code(
    request: Request, session: Session, actor: StaffEdit, citizen_id: int
) -> Response:
    await letters_service.issue_letter_code(
        session, actor=actor, settings=settings_of(request), citizen_id=citizen_id
    )
    return RedirectResponse(f"/citizens/{citizen_id}/letter", status_code=303)


@router.get("/letter-code", response_class=HTMLResponse)
async def letter_code_form(
    request: Request, _: Annotated[Actor | None, Depends(public)]
) -> Response:
    # A ?code= from an old link is ignored, never echoed: a code in a URL is spent.
    return render(request, "vouchers/letter_code.html", {"code": ""})


@router.post("/letter-code", response_class=HTMLResponse)
async def letter_code_sign_in(
    request: Request,
    session: Session,
    _: Annotated[Actor | None, Depends(public)],
    code: Annotated[str, Form()] = "",
) -> Response:
    try:
        _user, token = await letters_service.sign_in_with_letter_code(
            session,
            settings=settings_of(request),
            code=code,
            client_address=request.client.host if request.client else "unknown",
        )
    except AppError as exc:
        return form_error(request, "vouchers/letter_code.html", {"code": code[:20]}, exc)
    return signed_in_redirect(request, token, "/letter-code/password")
