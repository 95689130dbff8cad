"""Numbers beyond what the database can store are the caller's mistake: a 422
with a sentence, never a 500, on SQLite (64-bit) and PostgreSQL (32-bit ids)."""

from tests.conftest import backend
from tests.factories import api_headers, login

TOO_LARGE = 396671603029829115445248  # from a schemathesis run that found a 500


async def test_an_id_too_large_for_any_integer_column_is_a_422(client, world):
    await login(client, world.user("admin").email)
    response = await client.get(f"/api/v1/settlement/statements/{TOO_LARGE}")
    assert response.status_code == 422, response.text
    assert "too large" in response.json()["detail"]


async def test_an_id_beyond_32_bits_is_a_422_on_postgresql_and_not_found_on_sqlite(client, world):
    await login(client, world.user("admin").email)
    response = await client.get(f"/api/v1/settlement/statements/{2**31}")
    assert response.status_code == (422 if backend() == "postgresql" else 404), response.text


async def test_a_list_of_ids_too_large_is_a_422_and_changes_nothing(client, world, session):
    from sqlalchemy import func, select

    from market.payouts.models import Payout

    await login(client, world.user("admin").email)
    response = await client.post(
        "/api/v1/payouts",
        json={"statement_ids": [TOO_LARGE, 1]},
        headers=api_headers(client),
    )
    assert response.status_code == 422, response.text
    assert "too large" in response.json()["detail"]
    assert await session.scalar(select(func.count()).select_from(Payout)) == 0


async def test_a_page_with_an_id_too_large_says_so_in_words(client, world):
    await login(client, world.user("admin").email)
    response = await client.get(f"/settlement/statements/{TOO_LARGE}")
    assert response.status_code == 422
    assert "too large" in response.text
