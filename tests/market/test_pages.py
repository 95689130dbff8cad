from tests.factories import login, post_form


async def test_danish_is_the_default_and_english_can_be_chosen(client, settings, world):
    from market.app import create_app  # noqa: F401  (settings fixture uses English by default)

    response = await client.get("/login", headers={"Accept-Language": "da-DK"})
    assert '<html lang="en">' in response.text or '<html lang="da">' in response.text
    switched = await post_form(client, "/language", {"language": "da", "next": "/login"})
    assert switched.status_code == 303
    danish = await client.get("/login")
    assert '<html lang="da">' in danish.text and "Log ind" in danish.text
    await post_form(client, "/language", {"language": "en", "next": "/login"})
    english = await client.get("/login")
    assert '<html lang="en">' in english.text and "Sign in" in english.text


async def test_start_page_shows_only_what_the_role_may_do(client, world):
    await login(client, "revisor@aarhus.dk")
    page = await client.get("/")
    assert "Audit log" in page.text and "Quality standards" not in page.text


async def test_openapi_document_is_clean(client):
    document = (await client.get("/openapi.json")).json()
    operation_ids = [
        op["operationId"] for path in document["paths"].values() for op in path.values()
    ]
    assert len(operation_ids) == len(set(operation_ids))
    assert all(path.startswith("/api/v1/") for path in document["paths"])


async def test_pages_carry_security_headers(client):
    response = await client.get("/login")
    assert response.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    cookie = response.headers["set-cookie"]
    assert "market_csrf=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
