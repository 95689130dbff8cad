"""Counting the statements the database driver executes: a counter on the
engine (every cursor execute, SAVEPOINTs included), so a test can fail when a
code path starts to make more round trips. A count, not a timing."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass
class Statements:
    """The statements executed while the counter was on, in order."""

    executed: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.executed)

    def listing(self) -> str:
        return "\n".join(
            f"{n:3d}. {' '.join(sql.split())[:300]}" for n, sql in enumerate(self.executed, 1)
        )


@contextmanager
def counting_statements(engine: AsyncEngine) -> Iterator[Statements]:
    """Counts every statement the driver executes on ``engine`` inside the block."""
    statements = Statements()

    def before_cursor_execute(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        statements.executed.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before_cursor_execute)
