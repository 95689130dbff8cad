"""The test Stripe (localstripe plus our Connect stubs) answers the real SDK
the way Stripe does."""

import urllib.request

import pytest
import stripe

from tests.stripe_server import inject_faults

pytestmark = pytest.mark.stripe


def test_account_and_transfer_with_the_real_sdk(stripe_client):
    account = stripe_client.v1.accounts.create({"type": "custom", "country": "DK"})
    assert account.id.startswith("acct_")
    assert stripe_client.v1.accounts.retrieve(account.id).id == account.id

    params = {
        "amount": 12345,
        "currency": "dkk",
        "destination": account.id,
        "transfer_group": "payout:7",
        "metadata": {"idempotency_key": "payout:7"},
    }
    first = stripe_client.v1.transfers.create(params, {"idempotency_key": "payout:7"})
    again = stripe_client.v1.transfers.create(params, {"idempotency_key": "payout:7"})
    other = stripe_client.v1.transfers.create(
        {**params, "transfer_group": "payout:8"}, {"idempotency_key": "payout:8"}
    )

    assert again.id == first.id
    assert other.id != first.id
    assert first.amount == 12345 and first.destination == account.id
    assert first.metadata["idempotency_key"] == "payout:7"
    assert stripe_client.v1.transfers.retrieve(first.id).transfer_group == "payout:7"
    found = stripe_client.v1.transfers.list({"transfer_group": "payout:7"})
    assert [t.id for t in found.data] == [first.id]
    assert len(stripe_client.v1.transfers.list().data) == 2


def test_a_key_reused_with_other_parameters_is_refused(stripe_client):
    account = stripe_client.v1.accounts.create({"type": "custom"})
    params = {"amount": 100, "currency": "dkk", "destination": account.id}
    stripe_client.v1.transfers.create(params, {"idempotency_key": "k1"})
    with pytest.raises(stripe.IdempotencyError):
        stripe_client.v1.transfers.create({**params, "amount": 101}, {"idempotency_key": "k1"})
    assert len(stripe_client.v1.transfers.list().data) == 1


def test_unknown_destination_is_refused_and_nothing_is_made(stripe_client):
    with pytest.raises(stripe.InvalidRequestError, match="No such destination"):
        stripe_client.v1.transfers.create(
            {"amount": 100, "currency": "dkk", "destination": "acct_nobody"}
        )
    assert stripe_client.v1.transfers.list().data == []


def test_payment_intents_honour_the_key_too(stripe_client):
    params = {
        "amount": 4500,
        "currency": "dkk",
        "payment_method": "pm_card_visa",
        "capture_method": "manual",
        "confirm": True,
    }
    first = stripe_client.v1.payment_intents.create(params, {"idempotency_key": "copay:1"})
    again = stripe_client.v1.payment_intents.create(params, {"idempotency_key": "copay:1"})
    assert again.id == first.id
    assert first.status == "requires_capture"
    assert len(stripe_client.v1.payment_intents.list().data) == 1


def test_injected_faults_then_recovery(stripe_client, stripe_reset):
    inject_faults(stripe_reset, count=1, status=503, path="/v1/accounts")
    with pytest.raises(stripe.APIError):
        stripe_client.v1.accounts.create({"type": "custom"})
    assert stripe_client.v1.accounts.create({"type": "custom"}).id.startswith("acct_")


def test_reset_empties_everything(stripe_client, stripe_reset):
    account = stripe_client.v1.accounts.create({"type": "custom"})
    stripe_client.v1.customers.create({"email": "a@example.org"})
    assert len(stripe_client.v1.customers.list().data) == 1

    urllib.request.urlopen(
        urllib.request.Request(stripe_reset + "/_config/data", method="DELETE")
    ).read()
    assert stripe_client.v1.customers.list().data == []
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.accounts.retrieve(account.id)
