"""The start page: where each role begins."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from market.auth.dependencies import public
from market.auth.permissions import Actor
from market.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, actor: Annotated[Actor | None, Depends(public)]) -> Response:
    if actor is None:
        if getattr(request.state, "user_session", None) is not None:
            return RedirectResponse("/login/second-factor", status_code=303)
        return RedirectResponse("/login", status_code=303)
    return render(request, "shared/home.html", {})
