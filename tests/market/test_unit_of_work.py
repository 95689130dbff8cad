"""One unit of work per request: success commits, any error status rolls back."""

from typing import Annotated

from fastapi import Depends
from sqlalchemy import func, select

from market.auth.dependencies import Session, public
from market.auth.permissions import Actor
from market.errors import Conflict
from market.municipalities import service as municipalities
from market.municipalities.models import Municipality


def _routes(app):
    @app.post("/_test/create-then-fail")
    async def create_then_fail(
        session: Session, _: Annotated[Actor | None, Depends(public)]
    ) -> dict[str, str]:
        await municipalities.create(session, code="9999", name="Half Written", postal_codes={})
        raise Conflict("Stopped halfway on purpose.")

    @app.post("/_test/create")
    async def create(session: Session, _: Annotated[Actor | None, Depends(public)]) -> dict:
        await municipalities.create(session, code="9998", name="Whole", postal_codes={})
        return {"ok": True}


async def _count(session, code):
    return (
        await session.execute(
            select(func.count()).select_from(Municipality).where(Municipality.code == code)
        )
    ).scalar_one()


async def test_an_error_leaves_nothing_half_written(app, client, session):
    _routes(app)
    await client.get("/login")
    headers = {"X-CSRF-Token": client.cookies["market_csrf"], "Accept": "application/json"}
    failed = await client.post("/_test/create-then-fail", headers=headers)
    assert failed.status_code == 409 and failed.json()["detail"] == "Stopped halfway on purpose."
    assert await _count(session, "9999") == 0
    ok = await client.post("/_test/create", headers=headers)
    assert ok.status_code == 200
    assert await _count(session, "9998") == 1


async def test_unknown_page_is_a_404_sentence(client):
    html = await client.get("/no-such-page")
    assert html.status_code == 404 and "That page does not exist." in html.text
    api = await client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.json()["detail"] == "That page does not exist."


async def test_missing_form_field_is_a_422_sentence(client):
    await client.get("/login")
    response = await client.post("/login", data={"csrf_token": client.cookies["market_csrf"]})
    assert response.status_code == 422
    assert "email" in response.text and "Some of the input is missing" in response.text
