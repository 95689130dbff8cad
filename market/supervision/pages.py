"""The supervision page: providers of the municipality with their risk score,
supervision level and the figures behind the score."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from market.auth.dependencies import Session, require
from market.auth.permissions import Actor, Permission
from market.supervision import service
from market.templating import render

router = APIRouter(include_in_schema=False)

Directory = Annotated[Actor, Depends(require(Permission.PROVIDER_DIRECTORY_VIEW))]


@router.get("/supervision", response_class=HTMLResponse)
async def supervision(request: Request, session: Session, actor: Directory) -> Response:
    view = await service.overview(session, actor=actor)
    return render(
        request,
        "supervision/overview.html",
        {
            "view": view,
            "weights": {
                "complaint": service.W_COMPLAINT,
                "late": service.W_LATE,
                "failed": service.W_FAILED,
                "rating": service.W_LOW_RATING,
                "target": service.TARGET_STARS,
            },
        },
    )
