"""The one idempotency-key rule (market.idempotency): a client's key is checked
once, with one limit and one sentence; every key or reference derived from it
fits its column, and the same text always derives the same key."""

import pytest

from market import idempotency
from market.errors import InvalidInput


def test_a_client_key_is_1_to_200_characters_after_trimming():
    assert idempotency.client_key("  abc  ") == "abc"
    assert idempotency.client_key("k" * 200) == "k" * 200
    for bad in ("", "   ", "k" * 201):
        with pytest.raises(InvalidInput) as refused:
            idempotency.client_key(bad)
        assert refused.value.message == "An idempotency key of 1 to 200 characters is required."
        assert refused.value.status_code == 422


def test_a_derived_key_always_fits_and_stays_distinct():
    short = "order:abc:reserve"
    assert idempotency.fit(short) == short
    longest = "k" * 200
    assert idempotency.fit(longest) == longest
    for text in ("tap:" + "k" * 200 + ":note", "x" * 5000):
        fitted = idempotency.fit(text)
        assert len(fitted) == idempotency.KEY_CHARS
        assert idempotency.fit(text) == fitted  # the same text, the same key
    assert idempotency.fit("a" * 300) != idempotency.fit("a" * 299 + "b")
    ref = idempotency.fit("order-key:" + "k" * 200, idempotency.ORDER_REF_CHARS)
    assert len(ref) == idempotency.ORDER_REF_CHARS
