"""Bad input is the caller's mistake: a 422 with a sentence, never a 500, on
SQLite and PostgreSQL — a NUL byte in any text (forms, multipart fields,
JSON, the query string; before sign-in too), a lone UTF-16 surrogate in
JSON, a month outside 2000–2100, a search of a megabyte. And the sentence
never repeats the whole offending input back."""

import pytest

from market.auth.service import actor_for
from tests.factories import api_headers, csrf, login
from tests.vouchers.conftest import make_citizen


def assert_sentence(response, status: int = 422) -> None:
    assert response.status_code == status, response.text[:500]
    assert len(response.text) < 20_000


async def test_a_nul_byte_in_the_login_form_is_a_422_before_sign_in(client, world):
    token = await csrf(client)
    response = await client.post(
        "/login",
        data={"email": "admin\x00@aarhus.dk", "password": "x", "next": "/", "csrf_token": token},
    )
    assert_sentence(response)
    assert "NUL" in response.text or "control character" in response.text


async def test_a_nul_byte_in_a_multipart_text_field_is_a_422_but_not_in_a_file(client, world):
    token = await csrf(client)
    refused = await client.post(
        "/login",
        data={"email": "admin\x00@aarhus.dk", "password": "x", "csrf_token": token},
        files={"attachment": ("a.bin", b"\x00\x01\x02", "application/octet-stream")},
    )
    assert_sentence(refused)
    # Binary file content may hold any byte: the login itself answers, not the guard.
    allowed = await client.post(
        "/login",
        data={"email": "nobody@aarhus.dk", "password": "x", "csrf_token": token},
        files={"attachment": ("a.bin", b"\x00\x01\x02", "application/octet-stream")},
    )
    assert allowed.status_code != 422, allowed.text[:300]


async def test_a_nul_byte_in_json_and_in_the_query_string_is_a_422(client, world):
    await login(client, world.user("case_worker").email)
    response = await client.post(
        "/api/v1/citizens/search", json={"q": "Karen\x00"}, headers=api_headers(client)
    )
    assert_sentence(response)
    assert response.json()["error"] == "invalid_input"
    response = await client.get("/api/v1/citizens?q=Karen%00")
    assert_sentence(response)


async def test_a_lone_surrogate_in_json_is_a_422(client, world):
    await login(client, world.user("case_worker").email)
    response = await client.post(
        "/api/v1/citizens/search",
        content=b'{"q": "Karen \\ud800"}',
        headers={**api_headers(client), "Content-Type": "application/json"},
    )
    assert_sentence(response)
    assert response.json()["error"] == "invalid_input"


@pytest.mark.parametrize("month", ["9999-12", "1999-12", "2101-01", "0001-01"])
async def test_a_month_outside_2000_to_2100_is_a_422_with_a_sentence(client, world, month):
    await login(client, world.user("admin").email)
    response = await client.get(f"/api/v1/settlement/months/{month}/statements")
    assert_sentence(response)
    assert "2000" in response.json()["detail"] and "2100" in response.json()["detail"]
    page = await client.get(f"/settlement/months/{month}")
    assert_sentence(page)


async def test_a_megabyte_search_is_a_422_that_does_not_echo_it(client, world):
    await login(client, world.user("case_worker").email)
    huge = "x" * 1_000_000
    response = await client.post(
        "/api/v1/citizens/search", json={"q": huge}, headers=api_headers(client)
    )
    assert_sentence(response)
    assert "x" * 200 not in response.text


async def test_an_error_sentence_quotes_a_short_prefix_at_most(client, world):
    await login(client, world.user("admin").email)
    response = await client.post(
        "/api/v1/settlement/runs", json={"month": "y" * 1_000_000}, headers=api_headers(client)
    )
    assert_sentence(response)
    assert "y" * 200 not in response.text


async def test_search_wildcards_are_taken_literally(client, world, session):
    case_worker = actor_for(world.user("case_worker"))
    await make_citizen(session, case_worker, name="Anna Hansen")
    await session.commit()
    await login(client, world.user("case_worker").email)

    async def found(q: str) -> list[str]:
        response = await client.post(
            "/api/v1/citizens/search", json={"q": q}, headers=api_headers(client)
        )
        assert response.status_code == 200, response.text
        return [c["full_name"] for c in response.json()]

    assert await found("anna") == ["Anna Hansen"]
    assert await found("_nna") == []
    assert await found("%") == []


@pytest.mark.parametrize(
    ("who", "url"),
    [
        ("case_worker", "/api/v1/catalogue?day=9999-12-31"),
        ("provider_admin", "/kitchen?day=9999-12-31"),
        ("provider_admin", "/api/v1/kitchen/orders?day=9999-12-31"),
    ],
)
async def test_a_day_at_the_end_of_the_calendar_is_not_a_server_error(client, world, who, url):
    await login(client, world.user(who).email)
    response = await client.get(url)
    assert response.status_code < 500, response.text[:300]
