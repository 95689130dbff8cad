"""HTML pages of quality standards: the versions, a draft's requirements,
and publishing it."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from market.auth.dependencies import Session, require
from market.auth.permissions import Actor
from market.errors import AppError
from market.templating import render
from providers.exceptions import RequirementNotFound
from providers.forms import (
    P,
    build,
    optional_date,
    text_field,
)
from providers.schemas import (
    RequirementIn,
    StandardCreate,
)
from providers.standards import service as standards_service

router = APIRouter(include_in_schema=False)


@router.get("/standards", response_class=HTMLResponse)
async def standards(
    request: Request, session: Session, actor: Annotated[Actor, Depends(require(P.STANDARD_EDIT))]
) -> Response:
    versions = await standards_service.list_standards(session, actor=actor)
    return render(request, "providers/standards.html", {"versions": versions, "values": {}})


@router.post("/standards", response_class=HTMLResponse)
async def standard_create(
    request: Request,
    session: Session,
    actor: Annotated[Actor, Depends(require(P.STANDARD_EDIT))],
    service_name: Annotated[str, Form(alias="service")] = "",
    title: Annotated[str, Form()] = "",
) -> Response:
    try:
        created = await standards_service.create_standard(
            session, actor=actor, data=StandardCreate(service=service_name, title=title)
        )
    except AppError as exc:
        versions = await standards_service.list_standards(session, actor=actor)
        return render(
            request,
            "providers/standards.html",
            {
                "versions": versions,
                "values": {"service": service_name, "title": title},
                "error": exc.sentence(),
            },
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/standards/{created.standard.id}", status_code=303)


def _requirement_values(form: FormData) -> dict[str, Any]:
    return {
        "key": text_field(form, "key"),
        "title": text_field(form, "title"),
        "description": text_field(form, "description"),
        "kind": text_field(form, "kind"),
        "mandatory": text_field(form, "mandatory") == "yes",
        "unit": text_field(form, "unit") or None,
        "min_value": text_field(form, "min_value") or None,
        "max_value": text_field(form, "max_value") or None,
    }


@router.get("/standards/{standard_id}", response_class=HTMLResponse)
async def standard_page(
    request: Request,
    session: Session,
    standard_id: int,
    actor: Annotated[Actor, Depends(require(P.STANDARD_VIEW))],
) -> Response:
    view = await standards_service.get_standard(session, actor=actor, standard_id=standard_id)
    return render(request, "providers/standard.html", {"view": view, "values": {}})


async def _standard_error(
    request: Request, session: Session, actor: Actor, standard_id: int, exc: AppError, **ctx: Any
) -> Response:
    view = await standards_service.get_standard(session, actor=actor, standard_id=standard_id)
    return render(
        request,
        "providers/standard.html",
        {"view": view, "values": {}, "error": exc.sentence(), **ctx},
        status_code=exc.status_code,
    )


@router.post("/standards/{standard_id}/requirements", response_class=HTMLResponse)
async def requirement_add(
    request: Request,
    session: Session,
    standard_id: int,
    actor: Annotated[Actor, Depends(require(P.STANDARD_EDIT))],
) -> Response:
    values = _requirement_values(await request.form())
    try:
        await standards_service.add_requirement(
            session, actor=actor, standard_id=standard_id, data=build(RequirementIn, values)
        )
    except AppError as exc:
        return await _standard_error(request, session, actor, standard_id, exc, values=values)
    return RedirectResponse(f"/standards/{standard_id}#requirements", status_code=303)


@router.get("/standards/{standard_id}/requirements/{requirement_id}", response_class=HTMLResponse)
async def requirement_edit_form(
    request: Request,
    session: Session,
    standard_id: int,
    requirement_id: int,
    actor: Annotated[Actor, Depends(require(P.STANDARD_EDIT))],
) -> Response:
    view = await standards_service.get_standard(session, actor=actor, standard_id=standard_id)
    requirement = next((r for r in view.requirements if r.id == requirement_id), None)
    if requirement is None:
        raise RequirementNotFound()
    values = requirement.model_dump()
    return render(request, "providers/requirement_edit.html", {"view": view, "values": values})


@router.post("/standards/{standard_id}/requirements/{requirement_id}", response_class=HTMLResponse)
async def requirement_update(
    request: Request,
    session: Session,
    standard_id: int,
    requirement_id: int,
    actor: Annotated[Actor, Depends(require(P.STANDARD_EDIT))],
) -> Response:
    values = _requirement_values(await request.form())
    try:
        await standards_service.update_requirement(
            session,
            actor=actor,
            standard_id=standard_id,
            requirement_id=requirement_id,
            data=build(RequirementIn, values),
        )
    except AppError as exc:
        view = await standards_service.get_standard(session, actor=actor, standard_id=standard_id)
        return render(
            request,
            "providers/requirement_edit.html",
            {"view": view, "values": {**values, "id": requirement_id}, "error": exc.sentence()},
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/standards/{standard_id}#requirements", status_code=303)


@router.post("/standards/{standard_id}/requirements/{requirement_id}/delete")
async def requirement_remove(
    session: Session,
    standard_id: int,
    requirement_id: int,
    actor: Annotated[Actor, Depends(require(P.STANDARD_EDIT))],
) -> Response:
    await standards_service.remove_requirement(
        session, actor=actor, standard_id=standard_id, requirement_id=requirement_id
    )
    return RedirectResponse(f"/standards/{standard_id}#requirements", status_code=303)


@router.post("/standards/{standard_id}/publish", response_class=HTMLResponse)
async def standard_publish(
    request: Request,
    session: Session,
    standard_id: int,
    actor: Annotated[Actor, Depends(require(P.STANDARD_EDIT))],
    reapply_by: Annotated[str, Form()] = "",
) -> Response:
    try:
        await standards_service.publish_standard(
            session,
            actor=actor,
            standard_id=standard_id,
            reapply_by=optional_date(reapply_by),
        )
    except AppError as exc:
        return await _standard_error(
            request, session, actor, standard_id, exc, reapply_by=reapply_by
        )
    return RedirectResponse(f"/standards/{standard_id}?done=published", status_code=303)
