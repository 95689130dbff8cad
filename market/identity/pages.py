"""Signing in with the municipality's identity provider (staff) or MitID
(citizens and proxies), binding links, and the platform admin's settings.

The sign-in starts from plain links (GET), not forms: the pages' CSP allows
forms to post only to this site, and a browser applies that to the redirect
after a form as well."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from market.auth.dependencies import Session, public, require
from market.auth.models import User
from market.auth.pages import _safe_next, signed_in_redirect
from market.auth.permissions import Actor, Permission
from market.config import Settings
from market.errors import AppError
from market.i18n import gettext
from market.identity import citizens, service
from market.identity.exceptions import NoStaffAccess, ProviderNotConfigured
from market.identity.models import Audience
from market.identity.oidc import OidcClient
from market.municipalities import service as municipalities
from market.templating import render

router = APIRouter(include_in_schema=False)

BROWSER_COOKIE = "market_oidc"
CALLBACK_PATH = "/login/oidc/callback"


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def oidc_client(request: Request) -> OidcClient:
    return request.app.state.oidc


def base_url(request: Request) -> str:
    configured = _settings(request).public_url
    return (configured or str(request.base_url)).rstrip("/")


def redirect_uri(request: Request) -> str:
    return base_url(request) + CALLBACK_PATH


async def _municipality_id(session: Session, code: str) -> int:
    for municipality in await municipalities.list_all(session):
        if municipality.code == code and municipality.id is not None:
            return municipality.id
    raise ProviderNotConfigured()


def to_provider(request: Request, started: service.StartedSignIn) -> Response:
    response = RedirectResponse(started.url, status_code=303)
    response.set_cookie(
        BROWSER_COOKIE,
        started.browser_token,
        max_age=_settings(request).oidc_state_minutes * 60,
        httponly=True,
        # Lax: the provider sends the browser back with a top-level GET.
        samesite="lax",
        secure=_settings(request).cookie_secure,
        path="/login",
    )
    return response


@router.get("/login/oidc/{audience}/{municipality_code}")
async def start_sign_in(
    request: Request,
    session: Session,
    audience: Audience,
    municipality_code: str,
    _: Annotated[Actor | None, Depends(public)],
    next: str | None = None,
) -> Response:
    started = await service.begin_login(
        session,
        settings=_settings(request),
        oidc=oidc_client(request),
        municipality_id=await _municipality_id(session, municipality_code),
        audience=audience,
        redirect_uri=redirect_uri(request),
        next_path=_safe_next(next),
    )
    return to_provider(request, started)


def _message(
    request: Request, title: str, lines: list[str], status_code: int, **extra: object
) -> Response:
    response = render(
        request,
        "identity/message.html",
        {"title": title, "lines": lines, **extra},
        status_code=status_code,
    )
    response.delete_cookie(BROWSER_COOKIE, path="/login")
    return response


@router.get(CALLBACK_PATH, response_class=HTMLResponse)
async def callback(
    request: Request,
    session: Session,
    _: Annotated[Actor | None, Depends(public)],
    state: str = "",
    code: str | None = None,
    error: str | None = None,
) -> Response:
    settings = _settings(request)
    try:
        signed = await service.finish_login(
            session,
            settings=settings,
            oidc=oidc_client(request),
            state=state,
            code=code,
            error=error,
            browser_token=request.cookies.get(BROWSER_COOKIE),
            redirect_uri=redirect_uri(request),
        )
        if signed.provider.audience == Audience.STAFF:
            result: service.SignedIn | citizens.NoVoucher = await service.sign_in_staff(
                session, settings=settings, signed=signed
            )
        else:
            result = await citizens.sign_in_citizen(session, settings=settings, signed=signed)
    except NoStaffAccess as exc:
        # The refusal is audited and the state used up: keep both.
        request.state.commit_despite_error = True
        return _message(
            request,
            gettext("You do not have access yet"),
            [exc.sentence(), gettext("Your municipality's administrator can give you access.")],
            exc.status_code,
        )
    except AppError as exc:
        request.state.commit_despite_error = True
        return _message(request, gettext("The sign-in failed"), [exc.sentence()], exc.status_code)
    if isinstance(result, citizens.NoVoucher):
        request.state.commit_despite_error = True  # the refusal's audit event
        municipality = await municipalities.get(session, municipality_id=result.municipality_id)
        return _message(
            request,
            gettext("We cannot find a meal voucher for you"),
            [
                gettext("You signed in with MitID, but you have no voucher with us yet."),
                gettext(
                    "Call {municipality}'s citizen service: they decide whether you can "
                    "get meals delivered and set it up for you."
                ).format(municipality=municipality.name),
            ],
            403,
            phone=getattr(municipality, "contact_phone", None),
        )
    target = "/login/second-factor" if result.second_factor_pending else result.next_path
    response = signed_in_redirect(request, result.token, target)
    response.delete_cookie(BROWSER_COOKIE, path="/login")
    return response


# --- binding links ----------------------------------------------------------------


@router.get("/login/bind/{token}", response_class=HTMLResponse)
async def binding_page(
    request: Request, session: Session, token: str, _: Annotated[Actor | None, Depends(public)]
) -> Response:
    _link, user = await service.open_binding_link(session, token=token)
    assert user.municipality_id is not None
    municipality = await municipalities.get(session, municipality_id=user.municipality_id)
    return render(
        request,
        "identity/bind.html",
        {"token": token, "person": user, "municipality": municipality},
    )


@router.get("/login/bind/{token}/start")
async def binding_start(
    request: Request, session: Session, token: str, _: Annotated[Actor | None, Depends(public)]
) -> Response:
    link, user = await service.open_binding_link(session, token=token)
    return await start_binding_sign_in(request, session, user=user, binding_link_id=link.id)


async def start_binding_sign_in(
    request: Request, session: Session, *, user: User, binding_link_id: int | None = None
) -> Response:
    """For an accepted invitation (or a binding link, ``binding_link_id``):
    sends the person to the municipality's staff login, and the first sign-in
    binds its subject to ``user`` (see docs/identity.md). Call it only once the
    invitation's single-use token has been used up (or the link is open): that
    token is what proves the person is ``user``."""
    assert user.municipality_id is not None and user.id is not None
    started = await service.begin_login(
        session,
        settings=_settings(request),
        oidc=oidc_client(request),
        municipality_id=user.municipality_id,
        audience=Audience.STAFF,
        redirect_uri=redirect_uri(request),
        bind_user_id=user.id,
        binding_link_id=binding_link_id,
    )
    return to_provider(request, started)


@router.get("/identity/staff", response_class=HTMLResponse)
async def staff_page(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(Permission.IDENTITY_BINDING_MANAGE))],
) -> Response:
    configured, rows = await service.staff_bindings(session, actor=actor)
    return render(request, "identity/staff.html", {"configured": configured, "rows": rows})


@router.post("/identity/staff/{user_id}/binding-link", response_class=HTMLResponse)
async def issue_binding_link(
    request: Request,
    session: Session,
    user_id: int,
    actor: Annotated[Actor, Depends(require(Permission.IDENTITY_BINDING_MANAGE))],
) -> Response:
    issued = await service.issue_binding_link(
        session, settings=_settings(request), actor=actor, user_id=user_id
    )
    configured, rows = await service.staff_bindings(session, actor=actor)
    return render(
        request,
        "identity/staff.html",
        {
            "configured": configured,
            "rows": rows,
            "issued": issued,
            "issued_url": base_url(request) + issued.path,
        },
        status_code=201,
    )


# --- the platform admin's settings -------------------------------------------------


async def _providers_page(
    request: Request, session: Session, actor: Actor, **extra: object
) -> Response:
    providers = await service.list_providers(session, actor=actor)
    all_municipalities = await municipalities.list_all(session)
    names = {m.id: f"{m.name} ({m.code})" for m in all_municipalities}
    return render(
        request,
        "identity/providers.html",
        {
            "providers": providers,
            "names": names,
            "municipalities": all_municipalities,
            "audiences": list(Audience),
            "cpr_claim": service.CITIZEN_CPR_CLAIM,
            **extra,
        },
    )


@router.get("/identity/providers", response_class=HTMLResponse)
async def providers_page(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(Permission.IDENTITY_PROVIDER_MANAGE))],
) -> Response:
    return await _providers_page(
        request, session, actor, saved=request.query_params.get("saved") == "1"
    )


@router.post("/identity/providers", response_class=HTMLResponse)
async def save_provider(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(Permission.IDENTITY_PROVIDER_MANAGE))],
    municipality_id: Annotated[int, Form()],
    audience: Annotated[Audience, Form()],
    issuer: Annotated[str, Form()],
    client_id: Annotated[str, Form()],
    client_secret: Annotated[str, Form()] = "",
    scopes: Annotated[str, Form()] = "openid",
    person_claim: Annotated[str, Form()] = "",
    mfa_acr_values: Annotated[str, Form()] = "",
    mfa_amr_values: Annotated[str, Form()] = "",
    staff_passwords_allowed: Annotated[bool, Form()] = False,
    enabled: Annotated[bool, Form()] = False,
) -> Response:
    await service.configure_provider(
        session,
        settings=_settings(request),
        actor=actor,
        municipality_id=municipality_id,
        data=service.ProviderSettings(
            audience=audience,
            issuer=issuer,
            client_id=client_id,
            client_secret=client_secret,
            scopes=scopes,
            person_claim=person_claim,
            mfa_acr_values=mfa_acr_values,
            mfa_amr_values=mfa_amr_values,
            staff_passwords_allowed=staff_passwords_allowed,
            enabled=enabled,
        ),
    )
    return RedirectResponse("/identity/providers?saved=1", status_code=303)
