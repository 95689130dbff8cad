"""Benchmarks that need PostgreSQL whatever the suite (a module sets
POSTGRESQL_ONLY = True) run in the PostgreSQL suite only: the SQLite suite
deselects them, which MARKET_TEST_STRICT does not count as a skip."""

import pytest

from tests.conftest import backend


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if backend() == "postgresql":
        return
    dropped = [i for i in items if getattr(i.module, "POSTGRESQL_ONLY", False)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [i for i in items if i not in dropped]
