from sqlalchemy import select

from market.auth.models import User, UserSession
from tests.factories import login, post_form


async def test_login_rotates_session_and_logout_ends_it(client, world, session):
    first = await login(client, "admin@aarhus.dk")
    assert first.status_code == 303 and first.headers["location"] == "/"
    token_one = client.cookies["market_session"]
    second = await login(client, "admin@aarhus.dk")
    assert second.status_code == 303
    assert client.cookies["market_session"] != token_one

    home = await client.get("/")
    assert home.status_code == 200 and "Admin" in home.text

    await post_form(client, "/logout")
    assert "market_session" not in client.cookies
    remaining = (
        (
            await session.execute(
                select(UserSession).where(UserSession.user_id == world.user("admin").id)
            )
        )
        .scalars()
        .all()
    )
    assert (
        len(remaining) == 1
    )  # the first session of this test's two logins; logout ended the other
    assert (await client.get("/", follow_redirects=False)).headers["location"] == "/login"


async def test_wrong_password_is_401_with_a_sentence_and_counted(client, world, session):
    response = await login(client, "admin@aarhus.dk", "wrong-password")
    assert response.status_code == 401
    assert "e-mail address or the password is wrong" in response.text
    user = await session.get(User, world.user("admin").id)
    await session.refresh(user)
    assert user.failed_login_count == 1


async def test_back_off_after_repeated_failures(client, world, session):
    for _ in range(5):
        await login(client, "admin@aarhus.dk", "wrong-password")
    response = await login(client, "admin@aarhus.dk")  # right password, still backed off
    assert response.status_code == 429
    assert "Too many failed attempts" in response.text


async def test_form_without_csrf_token_is_refused(client, world):
    await client.get("/login")
    response = await client.post(
        "/login", data={"email": "admin@aarhus.dk", "password": "correct-horse-battery"}
    )
    assert response.status_code == 403
    assert "form has expired" in response.text
    assert "market_session" not in client.cookies


async def test_open_redirect_after_login_is_refused(client, world):
    token = (await client.get("/login")) and client.cookies["market_csrf"]
    response = await client.post(
        "/login",
        data={
            "email": "admin@aarhus.dk",
            "password": "correct-horse-battery",
            "next": "//evil.example",
            "csrf_token": token,
        },
    )
    assert response.headers["location"] == "/"


async def test_unknown_and_real_accounts_answer_alike_with_a_hash_off_the_event_loop(
    client, world, monkeypatch
):
    """An unknown e-mail costs the same argon2 verification as a real one (so the
    answer takes as long), runs it in a worker thread, and backs off the same."""
    import threading

    from market.auth import security

    real_verify = security.verify_password
    threads: list[str] = []

    def counting_verify(password_hash, password):
        threads.append(threading.current_thread().name)
        return real_verify(password_hash, password)

    monkeypatch.setattr(security, "verify_password", counting_verify)
    loop_thread = threading.current_thread().name

    def answers(email: str) -> list[int]:
        return [r.status_code for r in results[email]]

    results: dict[str, list] = {"admin@aarhus.dk": [], "nobody@aarhus.dk": []}
    for email in results:
        for _ in range(6):
            results[email].append(await login(client, email, "wrong-password"))
    assert answers("admin@aarhus.dk") == answers("nobody@aarhus.dk") == [401] * 5 + [429]
    assert results["nobody@aarhus.dk"][-1].text.count("Too many failed attempts") == 1
    # 5 verifications each; the 6th was refused by the back-off before hashing.
    assert len(threads) == 10 and loop_thread not in threads
