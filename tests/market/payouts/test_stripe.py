"""Payouts through the real stripe SDK (StripeGateway) against the test Stripe
(localstripe with Connect accounts and transfers)."""

import pytest

from market.payments.stripe_gateway import StripeGateway
from market.payouts import service
from market.payouts.models import PayoutStatus
from tests.market.payouts.conftest import later, same_connection, set_stripe
from tests.stripe_server import inject_faults

pytestmark = pytest.mark.stripe


@pytest.fixture
async def connected(session, books, stripe_client):
    """The Stripe-paid provider with a real connected account at the test Stripe."""
    account = stripe_client.v1.accounts.create({"type": "custom", "country": "DK"})
    await set_stripe(session, books.stripe_provider, account.id)
    await session.commit()
    return account.id


async def _payout(session, books, total_ore: int):
    statement = await books.statement(session, stripe=True, total_ore=total_ore)
    [payout] = await service.create_payouts(
        session, actor=books.admin, statement_ids=[statement.id]
    )
    await session.commit()
    return payout


async def test_a_payout_becomes_one_stripe_transfer(
    session, books, connected, stripe_settings, stripe_client
):
    payout = await _payout(session, books, 10_179_812)
    gateway = StripeGateway(stripe_settings)
    sessions = same_connection(session)
    report = await service.send_transfers(sessions, settings=stripe_settings, gateway=gateway)
    assert report.paid == [payout.id]
    again = await service.send_transfers(
        sessions, settings=stripe_settings, gateway=gateway, now=later(60)
    )
    assert again.paid == []
    [transfer] = stripe_client.v1.transfers.list().data
    assert transfer.amount == 10_179_812
    assert transfer.currency == "dkk"
    assert transfer.destination == connected
    assert transfer.transfer_group == payout.idempotency_key
    assert transfer.metadata["statement_id"] == str(payout.statement_id)
    await session.refresh(payout)
    assert payout.status == PayoutStatus.PAID and payout.gateway_reference == transfer.id


async def test_interrupted_before_the_record_and_run_again_is_one_transfer(
    session, books, connected, stripe_settings, stripe_client, monkeypatch
):
    payout = await _payout(session, books, 765_00)
    gateway = StripeGateway(stripe_settings)
    sessions = same_connection(session)

    async def crash(*args, **kwargs):
        raise RuntimeError("interrupted after Stripe answered")

    original = service._record_paid
    monkeypatch.setattr(service, "_record_paid", crash)
    with pytest.raises(RuntimeError):
        await service.send_transfers(sessions, settings=stripe_settings, gateway=gateway)
    assert len(stripe_client.v1.transfers.list().data) == 1
    monkeypatch.setattr(service, "_record_paid", original)
    report = await service.send_transfers(
        sessions, settings=stripe_settings, gateway=gateway, now=later(6)
    )
    assert report.paid == [payout.id]
    [transfer] = stripe_client.v1.transfers.list().data
    await session.refresh(payout)
    assert payout.status == PayoutStatus.PAID and payout.gateway_reference == transfer.id
    assert payout.attempts == 2


async def test_stripe_down_retries_later_with_the_same_key(
    session, books, connected, stripe_settings, stripe_client, stripe_reset
):
    payout = await _payout(session, books, 100_00)
    gateway = StripeGateway(stripe_settings)
    sessions = same_connection(session)
    inject_faults(stripe_reset, count=1, status=503, path="/v1/transfers")
    report = await service.send_transfers(sessions, settings=stripe_settings, gateway=gateway)
    assert report.retrying == [payout.id]
    await session.refresh(payout)
    assert payout.status == PayoutStatus.PENDING and payout.last_error
    assert stripe_client.v1.transfers.list().data == []
    report = await service.send_transfers(
        sessions, settings=stripe_settings, gateway=gateway, now=payout.next_attempt_at
    )
    assert report.paid == [payout.id]
    assert len(stripe_client.v1.transfers.list().data) == 1


async def test_an_unknown_account_fails_with_stripes_reason(
    session, books, stripe_settings, stripe_client
):
    await set_stripe(session, books.stripe_provider, "acct_1NobodyHere")
    await session.commit()
    payout = await _payout(session, books, 100_00)
    gateway = StripeGateway(stripe_settings)
    report = await service.send_transfers(
        same_connection(session), settings=stripe_settings, gateway=gateway
    )
    assert report.failed == [payout.id]
    await session.refresh(payout)
    assert payout.status == PayoutStatus.FAILED
    assert "No such destination" in (payout.last_error or "")
    assert stripe_client.v1.transfers.list().data == []
