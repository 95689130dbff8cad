"""HTML pages of the provider register: signing up, the provider's portal
and details, and the municipality's directory of providers."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from market.auth.dependencies import Session, public, require
from market.auth.pages import signed_in_redirect
from market.auth.permissions import Actor
from market.errors import AppError
from market.templating import render
from providers.forms import (
    DETAIL_FIELDS,
    REGISTRATION_FIELDS,
    P,
    settings_of,
    text_field,
)
from providers.registry import service as registry_service
from providers.schemas import (
    ProviderDetailsIn,
    ProviderRegistration,
)

router = APIRouter(include_in_schema=False)


@router.get("/providers/register", response_class=HTMLResponse)
async def register_form(request: Request, _: Annotated[Actor | None, Depends(public)]) -> Response:
    return render(request, "providers/register.html", {"values": {}})


@router.post("/providers/register", response_class=HTMLResponse)
async def register_submit(
    request: Request, session: Session, actor: Annotated[Actor | None, Depends(public)]
) -> Response:
    form = await request.form()
    values = {name: text_field(form, name) for name in REGISTRATION_FIELDS}
    try:
        result = await registry_service.register_provider(
            session,
            actor=actor,
            registration=ProviderRegistration(
                **values, admin_password=text_field(form, "admin_password")
            ),
            sign_in=settings_of(request),
        )
    except AppError as exc:
        return render(
            request,
            "providers/register.html",
            {"values": values, "error": exc.sentence()},
            status_code=exc.status_code,
        )
    assert result.session_token is not None
    return signed_in_redirect(request, result.session_token, "/provider")


@router.get("/provider", response_class=HTMLResponse)
async def portal(
    request: Request, session: Session, actor: Annotated[Actor, Depends(require(P.STANDARD_VIEW))]
) -> Response:
    view = await registry_service.portal(session, actor=actor)
    return render(request, "providers/portal.html", {"view": view})


@router.get("/provider/details", response_class=HTMLResponse)
async def details_form(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(P.PROVIDER_PROFILE_EDIT))],
) -> Response:
    provider = await registry_service.own_provider(session, actor=actor)
    values = {name: getattr(provider, name) for name in DETAIL_FIELDS}
    return render(request, "providers/details.html", {"values": values, "provider": provider})


@router.post("/provider/details", response_class=HTMLResponse)
async def details_submit(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(P.PROVIDER_PROFILE_EDIT))],
) -> Response:
    form = await request.form()
    values = {name: text_field(form, name) for name in DETAIL_FIELDS}
    try:
        await registry_service.update_provider(
            session, actor=actor, details=ProviderDetailsIn(**values)
        )
    except AppError as exc:
        return render(
            request,
            "providers/details.html",
            {"values": values, "error": exc.sentence()},
            status_code=exc.status_code,
        )
    return RedirectResponse("/provider?saved=details", status_code=303)


@router.get("/providers", response_class=HTMLResponse)
async def directory(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(P.PROVIDER_DIRECTORY_VIEW))],
) -> Response:
    rows = await registry_service.provider_directory(session, actor=actor)
    return render(request, "providers/directory.html", {"rows": rows})


@router.get("/providers/{provider_id}", response_class=HTMLResponse)
async def provider_page(
    request: Request,
    session: Session,
    provider_id: int,
    actor: Annotated[Actor, Depends(require(P.PROVIDER_DIRECTORY_VIEW))],
    done: str | None = None,
) -> Response:
    row = await registry_service.provider_detail(session, actor=actor, provider_id=provider_id)
    return render(request, "providers/provider.html", {"row": row, "done": done})
