"""The test database is built by the migrations; the models must match them."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from market.models_registry import import_all_models


async def test_models_and_migrations_do_not_drift(engine):
    import_all_models()

    def diff(sync_connection):
        context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
        return compare_metadata(context, SQLModel.metadata)

    async with engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == [], f"models and migrations differ: {differences}"


async def test_database_is_at_the_newest_revision(engine):
    from alembic.script import ScriptDirectory

    from market.migrations import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()

    def current(sync_connection):
        return MigrationContext.configure(sync_connection).get_current_revision()

    async with engine.connect() as connection:
        assert await connection.run_sync(current) == head
