import secrets
from typing import Annotated
from urllib.parse import urlparse

import segno
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth import one_time_codes, service
from market.auth.dependencies import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Session,
    csrf_token,
    public,
    require,
    signed_in_session,
)
from market.auth.models import User, UserSession
from market.auth.permissions import Actor, Permission, TokenScope
from market.auth.security import totp_uri
from market.config import Settings
from market.errors import N_, AppError
from market.headers import CONTENT_SECURITY_POLICY
from market.i18n import LANGUAGE_COOKIE, LANGUAGES, gettext
from market.identity import service as identity
from market.templating import render

router = APIRouter(include_in_schema=False)


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _safe_next(next_url: str | None) -> str:
    """Only local paths: never send a person to another site after login."""
    if not next_url:
        return "/"
    parsed = urlparse(next_url)
    if parsed.scheme or parsed.netloc or not next_url.startswith("/") or next_url.startswith("//"):
        return "/"
    return next_url


def _set_cookie(
    response: Response,
    request: Request,
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    samesite: str = "lax",
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite=samesite,  # type: ignore[arg-type]
        secure=_settings(request).cookie_secure,
        path="/",
    )


async def _login_page(
    request: Request,
    session: AsyncSession,
    context: dict[str, object],
    municipality: str | None = None,
    status_code: int = 200,
) -> Response:
    choices, chosen = await identity.sign_in_choices(session, municipality_code=municipality)
    return render(
        request,
        "auth/login.html",
        {"sign_in_choices": choices, "chosen": chosen, **context},
        status_code=status_code,
    )


@router.get("/login", response_class=HTMLResponse)
async def login_form(
    request: Request,
    session: Session,
    _: Annotated[Actor | None, Depends(public)],
    next: str | None = None,
    municipality: str | None = None,
) -> Response:
    return await _login_page(
        request, session, {"next": _safe_next(next), "email": ""}, municipality
    )


@router.post("/login", response_class=HTMLResponse)
async def login_submit(
    request: Request,
    session: Session,
    _: Annotated[Actor | None, Depends(public)],
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    try:
        result = await service.login(
            session, settings=_settings(request), email=email, password=password
        )
    except AppError as exc:
        if exc.keeps_changes:
            request.state.commit_despite_error = True
        message = gettext(exc.message).format(**exc.params)
        return await _login_page(
            request,
            session,
            {"next": _safe_next(next), "email": email, "error": message},
            status_code=exc.status_code,
        )
    target = "/login/second-factor" if result.second_factor_pending else _safe_next(next)
    return signed_in_redirect(request, result.token, target)


def signed_in_redirect(request: Request, token: str, target: str) -> RedirectResponse:
    """Sets the new session cookie (and a new CSRF token with it, so a token seen
    before signing in is worthless after) and sends the person on."""
    response = RedirectResponse(_safe_next(target), status_code=303)
    hours = _settings(request).session_lifetime_hours
    _set_cookie(response, request, SESSION_COOKIE, token, max_age=hours * 3600)
    _set_cookie(response, request, CSRF_COOKIE, secrets.token_urlsafe(32), samesite="strict")
    return response


@router.post("/logout")
async def logout(
    request: Request, session: Session, _: Annotated[Actor | None, Depends(public)]
) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    end_session = None
    if token:
        found = await service.resolve_session(session, token=token)
        if found is not None and found[0].id is not None:
            settings = _settings(request)
            base = (settings.public_url or str(request.base_url)).rstrip("/")
            end_session = await identity.end_provider_session(
                session,
                settings=settings,
                oidc=request.app.state.oidc,
                user_session_id=found[0].id,
                post_logout_redirect_uri=base + "/login",
            )
        await service.logout(session, token=token)
    response: Response
    if end_session is None:
        response = RedirectResponse("/login", status_code=303)
    else:
        # The provider's sign-out is a form POST (a citizen's ID token holds the
        # CPR claim and must not travel in a URL); this page alone may post there.
        request.state.actor = None
        response = render(request, "auth/signed_out.html", {"end_session": end_session})
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
            "form-action 'self'", f"form-action 'self' {end_session.origin}"
        )
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/login/second-factor", response_class=HTMLResponse)
async def second_factor_form(
    request: Request,
    session: Session,
    signed_in: Annotated[tuple[UserSession, User], Depends(signed_in_session)],
) -> Response:
    user_session, user = signed_in
    if not user_session.second_factor_pending:
        return RedirectResponse("/", status_code=303)
    if not user.totp_enabled:
        return RedirectResponse("/account/second-factor", status_code=303)
    return render(request, "auth/second_factor.html", {})


@router.post("/login/second-factor", response_class=HTMLResponse)
async def second_factor_submit(
    request: Request,
    session: Session,
    signed_in: Annotated[tuple[UserSession, User], Depends(signed_in_session)],
    code: Annotated[str, Form()],
) -> Response:
    user_session, user = signed_in
    await service.complete_second_factor(
        session, settings=_settings(request), user_session=user_session, user=user, code=code
    )
    return RedirectResponse("/", status_code=303)


@router.get("/account/second-factor", response_class=HTMLResponse)
async def totp_setup_form(
    request: Request,
    session: Session,
    signed_in: Annotated[tuple[UserSession, User], Depends(signed_in_session)],
) -> Response:
    _, user = signed_in
    if user.totp_enabled:
        return render(request, "auth/totp_setup.html", {"enabled": True})
    secret = service.pending_totp_secret(_settings(request), user)
    if secret is None:
        secret = await service.begin_totp_setup(session, settings=_settings(request), user=user)
    uri = totp_uri(secret, user.email)
    qr_svg = segno.make(uri).svg_inline(
        scale=5, title=gettext("QR code for your authenticator app")
    )
    return render(
        request, "auth/totp_setup.html", {"enabled": False, "secret": secret, "qr_svg": qr_svg}
    )


@router.post("/account/second-factor", response_class=HTMLResponse)
async def totp_setup_confirm(
    request: Request,
    session: Session,
    signed_in: Annotated[tuple[UserSession, User], Depends(signed_in_session)],
    code: Annotated[str, Form()],
) -> Response:
    user_session, user = signed_in
    await service.confirm_totp_setup(
        session, settings=_settings(request), user=user, user_session=user_session, code=code
    )
    return RedirectResponse("/", status_code=303)


@router.post("/language")
async def switch_language(
    request: Request,
    _: Annotated[Actor | None, Depends(public)],
    language: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    response = RedirectResponse(_safe_next(next), status_code=303)
    if language in LANGUAGES:
        _set_cookie(response, request, LANGUAGE_COOKIE, language, max_age=365 * 24 * 3600)
    return response


SCOPE_LABELS = {
    TokenScope.KITCHEN_ORDERS: N_("Kitchen orders: read and fulfil the kitchen's orders"),
    TokenScope.OFFERS: N_("Offers: manage the menu"),
    TokenScope.SETTLEMENT_READ: N_("Settlement, read only: the provider's statements"),
    TokenScope.FINANCE_READ: N_(
        "Finance, read only: statements with their lines and orders, e-invoices, "
        "payment files and co-payment statements"
    ),
}


def _tokens_page(
    request: Request, actor: Actor, tokens: list, status_code: int = 200, **extra: object
) -> Response:
    settings = _settings(request)
    context = {
        "tokens": tokens,
        "scopes": [(s.value, SCOPE_LABELS[s]) for s in service.token_scopes_for(actor)],
        "default_days": settings.api_token_default_days,
        "max_days": settings.api_token_max_days,
        "chosen": [],
        "name": "",
        "days": "",
        **extra,
    }
    return render(request, "auth/api_tokens.html", context, status_code=status_code)


@router.get("/account/api-tokens", response_class=HTMLResponse)
async def api_tokens(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(Permission.API_TOKEN_MANAGE))],
) -> Response:
    tokens = await service.list_api_tokens(session, actor=actor)
    return _tokens_page(request, actor, tokens)


@router.post("/account/api-tokens", response_class=HTMLResponse)
async def create_api_token(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(Permission.API_TOKEN_MANAGE))],
    name: Annotated[str, Form()],
    scopes: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies form defaults
    days: Annotated[str, Form()] = "",
) -> Response:
    try:
        issued = await service.create_api_token(
            session, actor=actor, settings=_settings(request), name=name, scopes=scopes, days=days
        )
    except AppError as exc:
        tokens = await service.list_api_tokens(session, actor=actor)
        return _tokens_page(
            request,
            actor,
            tokens,
            exc.status_code,
            error=exc.sentence(),
            chosen=scopes,
            name=name,
            days=days,
        )
    tokens = await service.list_api_tokens(session, actor=actor)
    return _tokens_page(request, actor, tokens, 201, issued=issued)


@router.post("/account/api-tokens/{token_id}/revoke")
async def revoke_api_token(
    request: Request,
    session: Session,
    token_id: int,
    actor: Annotated[Actor, Depends(require(Permission.API_TOKEN_MANAGE))],
) -> Response:
    await service.revoke_api_token(session, actor=actor, token_id=token_id)
    return RedirectResponse("/account/api-tokens", status_code=303)


__all__ = ["router", "csrf_token"]


# --- a password after signing in with a one-time (letter) code ------------------


@router.get("/letter-code/password", response_class=HTMLResponse)
async def password_form(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(Permission.ACCOUNT_SELF))],
) -> Response:
    user = await one_time_codes.own_login(session, actor=actor)
    return render(request, "auth/set_password.html", {"login": user.email})


@router.post("/letter-code/password", response_class=HTMLResponse)
async def set_password(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(Permission.ACCOUNT_SELF))],
    password: Annotated[str, Form()] = "",
    login: Annotated[str, Form()] = "",
) -> Response:
    try:
        await one_time_codes.set_own_password(session, actor=actor, password=password)
    except AppError as exc:
        context = {"login": login, "error": exc.sentence()}
        return render(request, "auth/set_password.html", context, status_code=exc.status_code)
    target = "/my-voucher" if actor.can(Permission.VOUCHER_VIEW_OWN) else "/"
    return RedirectResponse(target, status_code=303)
