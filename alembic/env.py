import asyncio

from sqlmodel import SQLModel

from alembic import context
from market.config import get_settings
from market.db import create_engine
from market.models_registry import import_all_models

import_all_models()
target_metadata = SQLModel.metadata
config = context.config


def database_url() -> str:
    return config.attributes.get("database_url") or get_settings().database_url


def do_run_migrations(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    settings = get_settings().model_copy(update={"database_url": database_url()})
    engine = create_engine(settings)
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_async_migrations())
