"""Route rules: who is asking (session cookie or API token), CSRF for every
unsafe request made with a cookie, and the permission check."""

import hmac
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth import service
from market.auth.models import User, UserSession
from market.auth.permissions import Actor, Permission, RouteRule, mark_rule
from market.db import get_session
from market.errors import N_, NotAuthenticated, PermissionDenied

SESSION_COOKIE = "market_session"
CSRF_COOKIE = "market_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Session = Annotated[AsyncSession, Depends(get_session)]


def csrf_token(request: Request) -> str:
    """The double-submit token for this browser: set as a cookie by the CSRF
    middleware and echoed in every form."""
    token = request.scope.get("state", {}).get("new_csrf_token") or request.cookies.get(CSRF_COOKIE)
    return token or ""


async def _check_csrf(request: Request) -> None:
    if request.method in SAFE_METHODS:
        return
    expected = request.cookies.get(CSRF_COOKIE)
    submitted = request.headers.get(CSRF_HEADER)
    if submitted is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        submitted = value if isinstance(value, str) else None
    if not expected or not submitted or not hmac.compare_digest(expected, submitted):
        raise PermissionDenied(
            N_(
                "This form has expired or was sent from elsewhere. "
                "Please reload the page and try again."
            )
        )


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def _identify(request: Request, session: AsyncSession) -> Actor | None:
    if "actor_resolved" in request.state._state:
        return request.state.actor
    actor: Actor | None = None
    request.state.user_session = None
    bearer = _bearer(request)
    if bearer is not None:
        actor = await service.resolve_api_token(session, token=bearer)
        if actor is None:
            raise NotAuthenticated(N_("The API token is unknown or revoked."))
    else:
        token = request.cookies.get(SESSION_COOKIE)
        found = await service.resolve_session(session, token=token) if token else None
        if found is not None:
            user_session, user = found
            request.state.user_session = user_session
            request.state.user = user
            if not user_session.second_factor_pending:
                actor = service.actor_for(user)
    request.state.actor = actor
    request.state.actor_resolved = True
    return actor


def require(*permissions: Permission) -> RouteRule:
    """The route needs a signed-in actor holding every one of these permissions."""

    async def rule(request: Request, session: Session) -> Actor:
        actor = await _identify(request, session)
        if actor is None:
            if getattr(request.state, "user_session", None) is not None:
                raise NotAuthenticated(N_("Please finish signing in with your second factor."))
            raise NotAuthenticated(N_("Please sign in to continue."))
        if not actor.via_api_token:
            await _check_csrf(request)
        missing = [p for p in permissions if not actor.can(p)]
        if missing:
            raise PermissionDenied(N_("Your role does not allow this."))
        return actor

    return mark_rule(rule, "require:" + ",".join(permissions))


async def _public(request: Request, session: Session) -> Actor | None:
    actor = await _identify(request, session)
    await _check_csrf(request)
    return actor


public: RouteRule = mark_rule(_public, "public")


async def _pending_second_factor(request: Request, session: Session) -> tuple[UserSession, User]:
    await _identify(request, session)
    await _check_csrf(request)
    user_session = getattr(request.state, "user_session", None)
    if user_session is None:
        raise NotAuthenticated(N_("Please sign in to continue."))
    return user_session, request.state.user


# For the second-factor pages: a signed-in session, with or without the second factor.
signed_in_session = mark_rule(_pending_second_factor, "session")
