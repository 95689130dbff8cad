"""Settlement runs and approvals of one month at once, in separate sessions on
committed data: nobody gets a server error (the loser of a race gets a 409
sentence), and an approved statement — its lines, its adjustment and its
check against the audit chain — is never changed by a re-run.

The races need committed data and separate connections, so each test builds
its own freshly migrated database (a temporary SQLite file or a throwaway
PostgreSQL database) instead of the rolled-back test session."""

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from market.audit.models import AuditEvent
from market.auth.permissions import Actor
from market.clock import first_of_month
from market.config import Settings
from market.db import create_engine, create_sessionmaker
from market.errors import AppError
from market.settlement import service
from market.settlement.models import (
    Adjustment,
    Statement,
    StatementLine,
    StatementLineOrder,
    StatementStatus,
)
from tests.conftest import TEST_SECRET, committed_database
from tests.market.settlement.conftest import PREVIOUS, insert_month

ROUNDS = 4
RUNNERS = 4


@pytest.fixture
async def settings(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Settings]:
    async with committed_database(tmp_path_factory.mktemp("settle-race"), "settle_race") as url:
        yield Settings(
            environment="test",
            database_url=url,
            secret_key=TEST_SECRET,
            upload_dir=tmp_path_factory.mktemp("settle-race-uploads"),
            default_language="en",
        )


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """The fixtures' session commits for real: the racers must see its data."""
    async with create_sessionmaker(engine)() as db_session:
        yield db_session


def months_back(n: int) -> date:
    month = PREVIOUS
    for _ in range(n):
        month = first_of_month(month - timedelta(days=1))
    return month


async def _attempt(engine: AsyncEngine, what: str, actor: Actor, **kwargs: object) -> str:
    """What one request does: its own unit of work, committed or rolled back."""
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            if what == "run":
                await service.run_month(session, actor=actor, **kwargs)
            else:
                await service.approve_statement(session, actor=actor, **kwargs)
        return what
    except AppError as exc:
        assert exc.status_code == 409, exc
        return "409"
    except Exception as exc:  # a server error: what must never happen
        return f"error:{type(exc).__name__}:{exc}"


async def _statement(engine: AsyncEngine, month_on: date) -> Statement:
    async with create_sessionmaker(engine)() as session:
        return (
            await session.execute(select(Statement).where(Statement.month_on == month_on))
        ).scalar_one()


async def test_rerunning_one_month_at_once_never_fails_with_a_server_error(
    engine, session, contract
):
    month_on = months_back(1)
    await insert_month(session, contract, month_on, on_time=40, late=3, absent=2)
    outcomes: Counter[str] = Counter()
    for _ in range(ROUNDS):
        outcomes.update(
            await asyncio.gather(
                *(
                    _attempt(engine, "run", contract.admin, month_on=month_on)
                    for _ in range(RUNNERS)
                )
            )
        )
    assert set(outcomes) <= {"run", "409"}, outcomes
    assert outcomes["run"] >= ROUNDS
    statement = await _statement(engine, month_on)
    async with create_sessionmaker(engine)() as check:
        linked = (
            await check.execute(
                select(func.count(StatementLineOrder.order_id))
                .join(StatementLine, StatementLine.id == StatementLineOrder.line_id)
                .where(StatementLine.statement_id == statement.id)
            )
        ).scalar_one()
        lines = (
            await check.execute(
                select(func.count(StatementLine.id)).where(StatementLine.statement_id.is_not(None))
            )
        ).scalar_one()
    assert statement.status == StatementStatus.DRAFT and statement.delivered == 43
    assert linked == 45  # every settled order behind exactly one line, once
    # Delivered, citizen absent, guarantee shortfall, SLA malus: none left over from a lost run.
    assert lines == 4


async def test_a_rerun_overlapping_an_approval_never_changes_the_approved_statement(
    engine, session, contract
):
    # The first month approved, with an adjustment to carry into the next one.
    first = months_back(ROUNDS)
    await insert_month(session, contract, first, on_time=10)
    assert await _attempt(engine, "run", contract.admin, month_on=first) == "run"
    statement = await _statement(engine, first)
    assert await _attempt(engine, "approve", contract.admin2, statement_id=statement.id) == (
        "approve"
    )
    for round_ in range(ROUNDS - 1, -1, -1):
        async with create_sessionmaker(engine)() as s, s.begin():
            adjustment = await service.add_adjustment(
                s,
                actor=contract.admin,
                statement_id=statement.id,
                amount_ore=-1_234,
                reason="Forkert dag",
            )
        month_on = months_back(round_)
        await insert_month(session, contract, month_on, on_time=10 + round_)
        assert await _attempt(engine, "run", contract.admin, month_on=month_on) == "run"
        draft = await _statement(engine, month_on)

        outcomes = await asyncio.gather(
            _attempt(engine, "approve", contract.admin2, statement_id=draft.id),
            *(_attempt(engine, "run", contract.admin, month_on=month_on) for _ in range(RUNNERS)),
        )
        assert not [o for o in outcomes if o.startswith("error")], outcomes
        statement = await _statement(engine, month_on)
        if outcomes[0] == "409":  # the approval lost the race: approve it now
            assert (
                await _attempt(engine, "approve", contract.admin2, statement_id=statement.id)
                == "approve"
            )
            statement = await _statement(engine, month_on)
        assert statement.status == StatementStatus.APPROVED

        async with create_sessionmaker(engine)() as check:
            lines = list(
                (
                    await check.execute(
                        select(StatementLine)
                        .where(StatementLine.statement_id == statement.id)
                        .order_by(StatementLine.position)
                    )
                ).scalars()
            )
            approved_event = (
                await check.execute(
                    select(AuditEvent).where(
                        AuditEvent.action == "settlement.statement_approved",
                        AuditEvent.entity_id == str(statement.id),
                    )
                )
            ).scalar_one()
            stated = json.loads(approved_event.data_json)
            applied = await check.get(Adjustment, adjustment.id)
            report = await service.check_statement(
                check, actor=contract.auditor, statement_id=statement.id
            )
        assert [(line.kind, line.amount_ore) for line in lines] == [
            (line["kind"], line["amount_ore"]) for line in stated["lines"]
        ]
        assert ("adjustment", -1_234) in [(line.kind, line.amount_ore) for line in lines]
        assert applied.applied_statement_id == statement.id
        assert statement.total_ore == stated["total_ore"]
        assert report.ok, [c.message for c in report.checks if not c.ok]
