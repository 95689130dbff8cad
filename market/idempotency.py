"""The one idempotency-key rule.

A client's key (the ``Idempotency-Key`` header, or a form's hidden key field) is
checked once, where it enters, by ``client_key``: 1 to 200 characters after
trimming, else a 422 with a sentence. Keys and references the market derives
from it (ledger transfer keys, a ledger transfer's ``order_ref``, a driver's
note) go through ``fit``, so they always fit their column: a text that is too
long keeps a readable head and ends in a digest of the whole text, so the same
text always gives the same key and two texts never share one."""

import hashlib

from market.errors import N_, InvalidInput

CLIENT_KEY_MAX_CHARS = 200
KEY_CHARS = 200  # every idempotency_key column is VARCHAR(200)
ORDER_REF_CHARS = 100  # ledger_transfer.order_ref is VARCHAR(100)
_DIGEST_CHARS = 64  # sha-256, hex


class IdempotencyKeyInvalid(InvalidInput):
    def __init__(self) -> None:
        super().__init__(N_("An idempotency key of 1 to 200 characters is required."))


def client_key(raw: str) -> str:
    """The client's key, checked against the one rule."""
    key = raw.strip()
    if not key or len(key) > CLIENT_KEY_MAX_CHARS:
        raise IdempotencyKeyInvalid()
    return key


def fit(text: str, max_chars: int = KEY_CHARS) -> str:
    """``text`` itself if it fits ``max_chars``; else its head and a digest of it
    (exactly ``max_chars`` long)."""
    if len(text) <= max_chars:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"{text[: max_chars - _DIGEST_CHARS - 1]}~{digest}"
