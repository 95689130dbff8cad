"""Colleagues (invite, role, close, second factor), accepting an invitation,
and a forgotten password."""

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.dependencies import Session, public, require
from market.auth.models import Role, User
from market.auth.pages import signed_in_redirect
from market.auth.permissions import Actor, Permission
from market.config import Settings
from market.errors import N_, AppError, InvalidInput, NotFound
from market.identity import service as identity
from market.identity.pages import start_binding_sign_in
from market.people import service
from market.people.models import TokenPurpose
from market.templating import render

router = APIRouter(include_in_schema=False)

Manager = Annotated[Actor, Depends(require(Permission.STAFF_MANAGE))]
Anyone = Annotated[Actor | None, Depends(public)]

ROLE_LABELS = service.ROLE_LABELS


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError as exc:
        raise InvalidInput(N_("Choose one of the roles in the list.")) from exc


async def _people_page(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    municipality_id: int | None,
    form: dict[str, Any] | None = None,
    error: AppError | None = None,
    invitation: service.Invitation | None = None,
    done: str | None = None,
) -> Response:
    found = await service.people(session, actor=actor, municipality_id=municipality_id)
    roles = [r for r in ROLE_LABELS if r in service.invitable_roles(actor)]
    return render(
        request,
        "people/people.html",
        {
            "people": found,
            "roles": roles,
            "role_labels": ROLE_LABELS,
            "municipality_id": municipality_id,
            "form": form or {"email": "", "full_name": "", "role": roles[0] if roles else ""},
            "error": error.sentence() if error else None,
            "invitation": invitation,
            "done": done,
        },
        status_code=error.status_code if error else (201 if invitation else 200),
    )


@router.get("/people", response_class=HTMLResponse)
async def people_page(
    request: Request,
    session: Session,
    actor: Manager,
    municipality_id: int | None = None,
    done: str | None = None,
) -> Response:
    return await _people_page(request, session, actor, municipality_id=municipality_id, done=done)


@router.post("/people/invite", response_class=HTMLResponse)
async def invite(
    request: Request,
    session: Session,
    actor: Manager,
    email: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    full_name: Annotated[str, Form()] = "",
    municipality_id: Annotated[int | None, Form()] = None,
) -> Response:
    form = {"email": email, "full_name": full_name, "role": role}
    try:
        invitation = await service.invite(
            session,
            settings=_settings(request),
            actor=actor,
            email=email,
            role=_role(role),
            full_name=full_name,
            municipality_id=municipality_id,
        )
    except AppError as exc:
        return await _people_page(
            request, session, actor, municipality_id=municipality_id, form=form, error=exc
        )
    return await _people_page(
        request, session, actor, municipality_id=municipality_id, invitation=invitation
    )


def _back(municipality_id: int | None, done: str) -> RedirectResponse:
    query = f"municipality_id={municipality_id}&" if municipality_id else ""
    return RedirectResponse(f"/people?{query}done={done}", status_code=303)


@router.post("/people/{user_id}/role")
async def change_role(
    session: Session,
    actor: Manager,
    user_id: int,
    role: Annotated[str, Form()] = "",
    municipality_id: Annotated[int | None, Form()] = None,
) -> Response:
    await service.change_role(session, actor=actor, user_id=user_id, role=_role(role))
    return _back(municipality_id, "role")


@router.post("/people/{user_id}/deactivate")
async def deactivate(
    session: Session,
    actor: Manager,
    user_id: int,
    municipality_id: Annotated[int | None, Form()] = None,
) -> Response:
    await service.deactivate(session, actor=actor, user_id=user_id)
    return _back(municipality_id, "deactivated")


@router.post("/people/{user_id}/second-factor-reset")
async def reset_second_factor(
    session: Session,
    actor: Manager,
    user_id: int,
    municipality_id: Annotated[int | None, Form()] = None,
) -> Response:
    await service.reset_second_factor(session, actor=actor, user_id=user_id)
    return _back(municipality_id, "second_factor")


@router.post("/people/{user_id}/reinvite", response_class=HTMLResponse)
async def reinvite(
    request: Request,
    session: Session,
    actor: Manager,
    user_id: int,
    municipality_id: Annotated[int | None, Form()] = None,
) -> Response:
    invitation = await service.reinvite(
        session, settings=_settings(request), actor=actor, user_id=user_id
    )
    return await _people_page(
        request, session, actor, municipality_id=municipality_id, invitation=invitation
    )


# --- accepting an invitation -----------------------------------------------------


@router.get("/invitation/{token}", response_class=HTMLResponse)
async def invitation_form(request: Request, session: Session, _: Anyone, token: str) -> Response:
    user = await service.invitation_for(session, token=token)
    name = "" if user.full_name == user.email else user.full_name
    return render(
        request,
        "people/accept.html",
        {
            "token": token,
            "email": user.email,
            "full_name": name,
            "identity_provider": await _staff_provider(session, user),
        },
    )


async def _staff_provider(session: AsyncSession, user: User) -> bool:
    if user.municipality_id is None:
        return False  # provider staff always have a password
    return await identity.staff_provider_enabled(session, municipality_id=user.municipality_id)


@router.get("/invitation/{token}/staff-login")
async def accept_with_identity_provider(
    request: Request, session: Session, _: Anyone, token: str
) -> Response:
    """Accepts the invitation by signing in at the municipality's identity provider:
    the single-use invitation proves who the person is, and their first sign-in
    there binds its subject to this account (no password is set). A link, not a
    form: the site's CSP lets forms post only to itself, redirects included."""
    invited = await service.invitation_for(session, token=token)
    if not await _staff_provider(session, invited):
        raise NotFound(N_("That page does not exist."))
    user = await service.accept_invitation(
        session, token=token, full_name=invited.full_name, password=None
    )
    return await start_binding_sign_in(request, session, user=user)


@router.post("/invitation/{token}", response_class=HTMLResponse)
async def accept(
    request: Request,
    session: Session,
    _: Anyone,
    token: str,
    full_name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    password_again: Annotated[str, Form()] = "",
) -> Response:
    try:
        if password != password_again:
            raise InvalidInput(N_("The two passwords are not the same."))
        user = await service.accept_invitation(
            session, token=token, full_name=full_name, password=password
        )
    except AppError as exc:
        if exc.status_code == 410:
            raise
        invited = await service.invitation_for(session, token=token)
        context = {"token": token, "email": invited.email, "full_name": full_name}
        return render(
            request,
            "people/accept.html",
            {**context, "error": exc.sentence()},
            status_code=exc.status_code,
        )
    cookie, pending = await service.sign_in(session, settings=_settings(request), user=user)
    return signed_in_redirect(request, cookie, "/login/second-factor" if pending else "/")


# --- a forgotten password --------------------------------------------------------


@router.get("/password-reset", response_class=HTMLResponse)
async def reset_request_form(request: Request, _: Anyone) -> Response:
    return render(request, "people/reset_request.html", {"sent": False})


@router.post("/password-reset", response_class=HTMLResponse)
async def reset_request(
    request: Request, session: Session, _: Anyone, email: Annotated[str, Form()] = ""
) -> Response:
    started = time.monotonic()
    await service.request_password_reset(session, settings=_settings(request), email=email)
    await service.answer_evenly(_settings(request), started)
    return render(request, "people/reset_request.html", {"sent": True})


@router.get("/password-reset/{token}", response_class=HTMLResponse)
async def reset_form(request: Request, session: Session, _: Anyone, token: str) -> Response:
    await service.check_token(session, token=token, purpose=TokenPurpose.PASSWORD_RESET)
    return render(request, "people/reset.html", {"token": token})


@router.post("/password-reset/{token}", response_class=HTMLResponse)
async def reset(
    request: Request,
    session: Session,
    _: Anyone,
    token: str,
    password: Annotated[str, Form()] = "",
    password_again: Annotated[str, Form()] = "",
) -> Response:
    await service.check_token(session, token=token, purpose=TokenPurpose.PASSWORD_RESET)
    try:
        if password != password_again:
            raise InvalidInput(N_("The two passwords are not the same."))
        await service.reset_password(session, token=token, password=password)
    except AppError as exc:
        if exc.status_code == 410:
            raise
        return render(
            request,
            "people/reset.html",
            {"token": token, "error": exc.sentence()},
            status_code=exc.status_code,
        )
    return RedirectResponse("/login?reset=done", status_code=303)
