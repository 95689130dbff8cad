"""The periodic runner: one at a time, each run recorded, weeks closed from where
the last round stopped, and `market demo` really runs it in its server."""

from sqlalchemy.ext.asyncio import async_sessionmaker
from typer.testing import CliRunner

from market import cli, tick
from market.operations import repository
from market.operations.runner_lock import periodic_lock

runner = CliRunner()


def savepoint_sessions(session):
    return async_sessionmaker(
        bind=session.bind, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


async def test_only_one_runner_holds_the_lock(engine):
    async with periodic_lock(engine) as first:
        async with periodic_lock(engine) as second:
            assert first is True and second is False
    async with periodic_lock(engine) as after:
        assert after is True


async def test_a_round_is_recorded_and_skipped_while_another_runner_works(
    session, settings, engine
):
    sessions = savepoint_sessions(session)
    report = await tick.run_once(settings, sessions)
    assert report["failed_items"] == 0
    run = await repository.get_run(session, "tick")
    assert run is not None and run.ok and run.succeeded_at == run.finished_at
    first_finish = run.finished_at

    async with periodic_lock(engine) as held:
        assert held
        skipped = await tick.run_once(settings, sessions)
    assert skipped == {"skipped": "another periodic runner holds the lock"}
    await session.refresh(run)
    assert run.finished_at == first_finish  # the skipped round ran nothing and recorded nothing


def test_market_demo_serves_with_the_periodic_work_switched_on(monkeypatch, tmp_path):
    """The settings are cached: the flag must be set before they are first read."""
    from market import demo as demo_data
    from market.app import create_app
    from market.config import get_settings

    monkeypatch.delenv("MARKET_RUN_PERIODIC", raising=False)
    monkeypatch.setenv("MARKET_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}")
    get_settings.cache_clear()
    get_settings()  # read once before, as any import-time use would
    seen = {}

    async def no_seed(settings, progress=None):
        progress("municipalities and staff")
        return [("someone", "someone@example.dk")]

    def fake_serve(host, port, reload=False):
        seen["run_periodic"] = create_app().state.settings.run_periodic

    monkeypatch.setattr(demo_data, "seed", no_seed)
    monkeypatch.setattr(cli, "serve_app", fake_serve)
    try:
        result = runner.invoke(cli.app, ["demo", "--port", "8999"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert seen == {"run_periodic": True}


async def test_one_failing_item_is_logged_and_the_others_are_kept(session, caplog):
    from datetime import UTC, datetime

    sessions = savepoint_sessions(session)
    when = datetime(2026, 1, 1, tzinfo=UTC)

    async def work(item_session, item_id):
        if item_id == 2:
            raise RuntimeError("this item is broken")
        await repository.record_run(
            item_session,
            job=f"item-{item_id}",
            started_at=when,
            finished_at=when,
            ok=True,
            report="",
        )
        return item_id

    results, failed = await tick._each(sessions, [1, 2, 3], work)
    assert results == [1, 3] and failed == 1
    assert await repository.get_run(session, "item-1") is not None
    assert await repository.get_run(session, "item-3") is not None
    assert "item 2 failed" in caplog.text


def test_the_demo_replaces_its_own_data_and_refuses_other_data(new_database, use_database):
    """What `market demo` does first on PostgreSQL (the same SQL works on SQLite)."""
    import asyncio

    from sqlalchemy import inspect

    from market import demo as demo_data
    from market.admin_tasks import TaskError, create_user
    from market.db import create_engine
    from market.migrations import upgrade

    url = new_database()
    upgrade(url)
    settings = use_database(url)

    def person(email: str) -> None:
        asyncio.run(
            create_user(
                settings,
                email=email,
                full_name="Someone",
                role="platform_admin",
                password="a-long-password-123",
                municipality_code=None,
                provider_cvr=None,
            )
        )

    async def tables() -> list[str]:
        engine = create_engine(settings)
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda c: inspect(c).get_table_names())
        await engine.dispose()
        return names

    asyncio.run(demo_data.reset_postgresql(settings))  # empty: left as it is
    assert "app_user" in asyncio.run(tables())
    person("real@kommune.dk")
    try:
        asyncio.run(demo_data.reset_postgresql(settings))
    except TaskError as exc:
        assert "holds data the demo did not seed" in str(exc)
    else:
        raise AssertionError("the demo must refuse a database with other data")
    person(demo_data.DEMO_MARKER_EMAIL)
    asyncio.run(demo_data.reset_postgresql(settings))
    assert asyncio.run(tables()) == []
