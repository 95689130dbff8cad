"""A payout worker killed (SIGKILL) right after the gateway made the transfer,
before it recorded anything, and run again: exactly one transfer, and the
payout is paid. Runs on its own committed database (a file SQLite database,
or a throwaway PostgreSQL one), since the worker is another process."""

import json
import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.pool import NullPool

from market.auth import service as auth_service
from market.auth.models import Role
from market.config import Settings
from market.db import create_engine, create_sessionmaker
from market.municipalities import service as municipalities
from market.payouts import service
from market.payouts.models import Payout, PayoutStatus
from tests.conftest import TEST_SECRET, committed_database
from tests.factories import make_provider
from tests.market.payouts.conftest import approval_for, approved_statement, set_stripe

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
async def fresh_url(tmp_path):
    async with committed_database(tmp_path, "kill") as url:
        yield url


async def _seed(url: str, account: str = "acct_1KilledWorker") -> int:
    """An approved statement of a Stripe-paid provider with its payout. Committed."""
    engine = create_engine(
        Settings(environment="test", database_url=url, secret_key=TEST_SECRET), poolclass=NullPool
    )
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            municipality = await municipalities.create(
                session, code="0101", name="København", postal_codes={"1000": "København K"}
            )
            admins = [
                await auth_service.create_user(
                    session,
                    actor=None,
                    email=f"admin{n}@kk.example",
                    full_name=f"Admin {n}",
                    password=None,
                    role=Role.MUNICIPAL_ADMIN,
                    municipality_id=municipality.id,
                )
                for n in (1, 2)
            ]
            provider = await make_provider(session)
            await set_stripe(session, provider, account)
            approval, terms = await approval_for(
                session,
                municipality_id=municipality.id,
                provider_id=provider.id,
                admin_id=admins[0].id,
            )
            statement = await approved_statement(
                session,
                approval=approval,
                terms=terms,
                month_on=date(2026, 10, 1),
                total_ore=10_179_812,
                prepared_by=admins[1].id,
                approved_by=admins[0].id,
            )
            [payout] = await service.create_payouts(
                session, actor=auth_service.actor_for(admins[0]), statement_ids=[statement.id]
            )
            assert payout.id is not None
            return payout.id
    finally:
        await engine.dispose()


async def _payout(url: str, payout_id: int) -> Payout:
    engine = create_engine(
        Settings(environment="test", database_url=url, secret_key=TEST_SECRET), poolclass=NullPool
    )
    try:
        async with create_sessionmaker(engine)() as session:
            return (
                await session.execute(select(Payout).where(Payout.id == payout_id))
            ).scalar_one()
    finally:
        await engine.dispose()


def _worker(url: str, ledger: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tests.market.payouts.kill_worker", url, str(ledger), *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_a_killed_worker_pays_exactly_once(fresh_url, tmp_path):
    payout_id = await _seed(fresh_url)
    ledger = tmp_path / "ledger.json"

    killed = _worker(fresh_url, ledger, "--kill")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    transfers = json.loads(ledger.read_text())
    assert len(transfers) == 1
    stranded = await _payout(fresh_url, payout_id)
    assert stranded.status == PayoutStatus.PENDING and stranded.attempts == 1
    assert stranded.gateway_reference is None

    # Within the claim's lease the payout is left alone ...
    early = _worker(fresh_url, ledger)
    assert early.returncode == 0, early.stderr
    assert json.loads(early.stdout.strip().splitlines()[-1])["paid"] == []
    # ... after it, the next worker finds the transfer instead of making another.
    again = _worker(fresh_url, ledger, "--later", "6")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.strip().splitlines()[-1])["paid"] == [payout_id]
    transfers = json.loads(ledger.read_text())
    assert len(transfers) == 1
    assert transfers[0]["idempotency_key"] == stranded.idempotency_key
    assert transfers[0]["amount_ore"] == 10_179_812
    paid = await _payout(fresh_url, payout_id)
    assert paid.status == PayoutStatus.PAID
    assert paid.gateway_reference == transfers[0]["id"]
    assert paid.attempts == 2
    # And once more: nothing.
    last = _worker(fresh_url, ledger, "--later", "60")
    assert json.loads(last.stdout.strip().splitlines()[-1])["paid"] == []
    assert len(json.loads(ledger.read_text())) == 1


@pytest.mark.stripe
async def test_a_killed_worker_pays_exactly_once_through_stripe(
    fresh_url, tmp_path, stripe_client, stripe_reset
):
    """The same with the real SDK against the test Stripe: its transfer list
    holds one transfer, and the payout records that one."""
    account = stripe_client.v1.accounts.create({"type": "custom", "country": "DK"})
    payout_id = await _seed(fresh_url, account.id)
    base = stripe_reset
    ledger = tmp_path / "unused.json"

    killed = _worker(fresh_url, ledger, "--kill", "--stripe", base)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert len(stripe_client.v1.transfers.list().data) == 1
    assert (await _payout(fresh_url, payout_id)).status == PayoutStatus.PENDING

    again = _worker(fresh_url, ledger, "--later", "6", "--stripe", base)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.strip().splitlines()[-1])["paid"] == [payout_id]
    [transfer] = stripe_client.v1.transfers.list().data
    assert transfer.amount == 10_179_812 and transfer.destination == account.id
    paid = await _payout(fresh_url, payout_id)
    assert paid.status == PayoutStatus.PAID and paid.gateway_reference == transfer.id
