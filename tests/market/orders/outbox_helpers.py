"""Running the outbox worker inside a test's rolled-back transaction: each
delivery step gets its own session on the test's connection (a savepoint), so
the worker sees what the test wrote and nothing is left behind."""

from sqlalchemy.ext.asyncio import AsyncSession


def same_connection(session: AsyncSession):
    def maker() -> AsyncSession:
        return AsyncSession(
            bind=session.bind,
            join_transaction_mode="create_savepoint",
            expire_on_commit=False,
            autoflush=False,
        )

    return maker
