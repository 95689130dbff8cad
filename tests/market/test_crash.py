"""Workers killed (SIGKILL) in the middle of placing an order, a settlement run
and a payout (issue 15, CI: crash tests). Afterwards `market vouchers verify`
and `market audit verify` pass, nothing is half-written, and nothing is paid
twice. Each worker is its own process on a committed database of its own (a
throwaway PostgreSQL database under MARKET_TEST_DB=postgresql)."""

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from market.audit.models import AuditEvent
from market.cli import app
from market.config import Settings, get_settings
from market.db import create_engine
from market.orders.models import Order, OrderEvent
from market.payouts import service as payouts
from market.payouts.models import Payout, PayoutStatus
from market.settlement import service as settlement
from market.settlement.models import SettlementRun, Statement, StatementLine
from tests.conftest import TEST_SECRET
from tests.market.orders.conftest import days_ahead
from tests.market.payouts.conftest import set_stripe
from tests.market.payouts.test_killed_worker import fresh_url  # noqa: F401 (fixture)
from tests.market.settlement.conftest import (  # noqa: F401 (fixtures)
    PREVIOUS,
    caps,
    contract,
    diner,
    insert_month,
    kitchen,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def session(fresh_url):  # noqa: F811
    """Replaces the rolled-back test session: the fixtures commit for real here,
    so the worker processes see what they built."""
    engine = create_engine(
        Settings(environment="test", database_url=fresh_url, secret_key=TEST_SECRET),
        poolclass=NullPool,
    )
    async with AsyncSession(engine, expire_on_commit=False, autoflush=False) as db_session:
        yield db_session
    await engine.dispose()


def _run(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MARKET_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def _worker(url: str, *args: str) -> subprocess.CompletedProcess:
    return _run(url, "-m", "tests.market.crash_worker", url, *args)


@pytest.fixture
def assert_books_are_sound(fresh_url, monkeypatch):  # noqa: F811
    """The operator's two commands against the crashed database (in a thread: they
    run their own event loop)."""
    monkeypatch.setenv("MARKET_DATABASE_URL", fresh_url)

    async def check() -> None:
        get_settings.cache_clear()
        try:
            for command in (["vouchers", "verify"], ["audit", "verify"]):
                result = await asyncio.to_thread(CliRunner().invoke, app, command)
                assert result.exit_code == 0, result.output
        finally:
            get_settings.cache_clear()

    return check


async def _count(session: AsyncSession, what, *where) -> int:
    """Read in a transaction of its own: the workers commit from other processes,
    and on SQLite an open transaction would hold the write lock they wait for."""
    await session.rollback()
    try:
        query = select(func.count()).select_from(what).where(*where)
        return (await session.execute(query)).scalar_one()
    finally:
        await session.rollback()


async def test_a_worker_killed_while_placing_an_order_leaves_no_trace(
    fresh_url,  # noqa: F811
    session,
    kitchen,  # noqa: F811
    diner,  # noqa: F811
    assert_books_are_sound,
):
    day = days_ahead(3).isoformat()
    args = ["order", str(diner.me.user_id), str(kitchen.offer.id), day, "crash-order-1"]
    events_before = await _count(session, AuditEvent)

    killed = _worker(fresh_url, *args, "--kill")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert await _count(session, Order) == 0
    assert await _count(session, OrderEvent) == 0
    assert await _count(session, AuditEvent) == events_before
    await assert_books_are_sound()

    # The citizen presses the button again (same key): one order, exactly.
    again = _worker(fresh_url, *args)
    assert again.returncode == 0, again.stderr
    assert await _count(session, Order) == 1
    await assert_books_are_sound()


async def test_a_killed_settlement_run_and_a_killed_payout_pay_exactly_once(
    fresh_url,  # noqa: F811
    session,
    contract,  # noqa: F811
    tmp_path,
    assert_books_are_sound,
):
    await insert_month(session, contract, PREVIOUS, on_time=6, late=1)
    await session.commit()
    settle = ["settle", str(contract.admin.user_id), PREVIOUS.isoformat()]

    killed = _worker(fresh_url, *settle, "--kill")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    for table in (SettlementRun, Statement, StatementLine):
        assert await _count(session, table) == 0, table
    await assert_books_are_sound()

    again = _worker(fresh_url, *settle)
    assert again.returncode == 0, again.stderr
    assert await _count(session, SettlementRun) == 1
    [statement] = (await session.execute(select(Statement))).scalars().all()
    assert statement.total_ore > 0
    await session.rollback()

    await settlement.approve_month(session, actor=contract.admin2, month_on=PREVIOUS)
    await set_stripe(session, contract.world.provider, "acct_1CrashTest")
    [payout] = await payouts.create_payouts(
        session, actor=contract.admin, statement_ids=[statement.id]
    )
    payout_id = payout.id
    await session.commit()

    ledger = tmp_path / "bank.json"
    pay = ["-m", "tests.market.payouts.kill_worker", fresh_url, str(ledger)]
    killed = _run(fresh_url, *pay, "--kill")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    resumed = _run(fresh_url, *pay, "--later", "6")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout.strip().splitlines()[-1])["paid"] == [payout_id]
    [transfer] = json.loads(ledger.read_text())  # one transfer, never two
    assert transfer["amount_ore"] == statement.total_ore
    await session.rollback()
    fresh = select(Payout).where(Payout.id == payout_id).execution_options(populate_existing=True)
    paid = (await session.execute(fresh)).scalar_one()
    assert paid.status == PayoutStatus.PAID and paid.gateway_reference == transfer["id"]
    await session.rollback()
    await assert_books_are_sound()
