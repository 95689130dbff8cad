"""StripeGateway with the real SDK against localstripe: transfers for payouts
(same key, same transfer; found again by its group after a crash), and the
mapping of Stripe's errors onto PaymentRefused and GatewayUnavailable."""

import pytest

from market.payments.gateway import GatewayUnavailable, OfflineGateway, PaymentRefused
from market.payments.service import get_gateway
from market.payments.stripe_gateway import StripeGateway
from tests.stripe_server import inject_faults

pytestmark = pytest.mark.stripe


async def test_transfer_once_per_key_and_found_by_its_group(stripe_settings, stripe_client):
    gateway = StripeGateway(stripe_settings)
    account = stripe_client.v1.accounts.create({"type": "custom", "country": "DK"})
    assert await gateway.find_transfer(idempotency_key="payout:41") is None
    first = await gateway.transfer(
        amount_ore=10_179_812,
        destination=account.id,
        idempotency_key="payout:41",
        metadata={"statement_id": "41"},
    )
    again = await gateway.transfer(
        amount_ore=10_179_812,
        destination=account.id,
        idempotency_key="payout:41",
        metadata={"statement_id": "41"},
    )
    assert again == first
    assert await gateway.find_transfer(idempotency_key="payout:41") == first
    assert await gateway.find_transfer(idempotency_key="payout:42") is None
    [made] = stripe_client.v1.transfers.list().data
    assert (made.amount, made.currency, made.destination) == (10_179_812, "dkk", account.id)
    assert made.transfer_group == "payout:41"
    assert made.metadata["statement_id"] == "41"


async def test_refusals_and_outages_are_told_apart(stripe_settings, stripe_reset):
    gateway = StripeGateway(stripe_settings)
    with pytest.raises(PaymentRefused, match="No such destination"):
        await gateway.transfer(
            amount_ore=100, destination="acct_nobody", idempotency_key="payout:1", metadata={}
        )
    with pytest.raises(PaymentRefused):
        await gateway.transfer(
            amount_ore=0, destination="acct_nobody", idempotency_key="payout:2", metadata={}
        )
    inject_faults(stripe_reset, count=1, status=503, path="/v1/transfers")
    with pytest.raises(GatewayUnavailable):
        await gateway.transfer(
            amount_ore=100, destination="acct_x", idempotency_key="payout:3", metadata={}
        )
    inject_faults(stripe_reset, count=1, status=429, path="/v1/payment_intents")
    with pytest.raises(GatewayUnavailable):
        await gateway.authorize(
            amount_ore=100,
            customer_id=None,
            payment_method_id="pm_card_visa",
            idempotency_key="copay:9:authorize",
            metadata={},
        )
    with pytest.raises(PaymentRefused, match="declined") as declined:
        await gateway.authorize(
            amount_ore=100,
            customer_id=None,
            payment_method_id="pm_card_chargeCustomerFail",
            idempotency_key="copay:10:authorize",
            metadata={},
        )
    assert isinstance(declined.value, PaymentRefused)


async def test_unreachable_stripe_is_unavailable(stripe_settings):
    closed = stripe_settings.model_copy(update={"stripe_api_base": "http://127.0.0.1:9"})
    with pytest.raises(GatewayUnavailable):
        await StripeGateway(closed).find_transfer(idempotency_key="payout:1")


async def test_capture_and_release_twice_are_no_errors(stripe_settings):
    gateway = StripeGateway(stripe_settings)
    one = await gateway.authorize(
        amount_ore=6000,
        customer_id=None,
        payment_method_id="pm_card_visa",
        idempotency_key="copay:1:authorize",
        metadata={},
    )
    await gateway.capture(reference=one.reference, idempotency_key="copay:1:capture")
    await gateway.capture(reference=one.reference, idempotency_key="copay:1:capture-again")
    with pytest.raises(PaymentRefused, match="succeeded"):
        await gateway.release(reference=one.reference, idempotency_key="copay:1:release")
    two = await gateway.authorize(
        amount_ore=6000,
        customer_id=None,
        payment_method_id="pm_card_visa",
        idempotency_key="copay:2:authorize",
        metadata={},
    )
    await gateway.release(reference=two.reference, idempotency_key="copay:2:release")
    await gateway.release(reference=two.reference, idempotency_key="copay:2:release-again")
    with pytest.raises(PaymentRefused, match="canceled"):
        await gateway.capture(reference=two.reference, idempotency_key="copay:2:capture")


def test_get_gateway_follows_the_settings(settings, stripe_settings):
    assert isinstance(get_gateway(settings), OfflineGateway)
    assert get_gateway(settings) is get_gateway(settings)
    assert isinstance(get_gateway(stripe_settings), StripeGateway)
    assert get_gateway(stripe_settings) is get_gateway(stripe_settings)
