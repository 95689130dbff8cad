"""The payment gateway protocol and the offline gateway (the default: the demo
and the monthly-statement flow need no network).

Every call that moves money carries an idempotency key derived from the
business operation (``copay:<order>:authorize``, ``payout:<statement>``), so
a retried call returns the first result instead of moving money again. A
gateway raises ``PaymentRefused`` when the answer is a final no (a declined
card) and ``GatewayUnavailable`` when the call may succeed later (network,
rate limit, 5xx): callers retry the latter with the same key."""

from dataclasses import dataclass, field
from typing import Protocol


class GatewayError(Exception):
    """Base of what a gateway raises."""


class PaymentRefused(GatewayError):
    """A final refusal, e.g. a declined card or an invalid destination.
    ``reference`` is the gateway's object when one was made (a declined
    PaymentIntent)."""

    def __init__(self, message: str, *, reference: str | None = None) -> None:
        super().__init__(message)
        self.reference = reference


class GatewayUnavailable(GatewayError):
    """The call did not go through and may be retried with the same key."""


@dataclass(frozen=True)
class Authorization:
    reference: str  # e.g. a Stripe PaymentIntent id
    status: str  # "authorized", or "declined" with the reason in `detail`
    detail: str = ""


@dataclass(frozen=True)
class CardRegistration:
    customer_id: str
    payment_method_id: str
    label: str  # e.g. "Visa •••• 4242", shown to the citizen


class PaymentGateway(Protocol):
    name: str

    async def authorize(
        self,
        *,
        amount_ore: int,
        customer_id: str | None,
        payment_method_id: str | None,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> Authorization: ...

    async def capture(self, *, reference: str, idempotency_key: str) -> None:
        """Captures an authorisation; capturing one already captured is no error."""
        ...

    async def release(self, *, reference: str, idempotency_key: str) -> None:
        """Lifts an authorisation; releasing one already released is no error."""
        ...

    async def transfer(
        self,
        *,
        amount_ore: int,
        destination: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> str:
        """Pays ``amount_ore`` to a connected account; returns the transfer id."""
        ...

    async def find_transfer(self, *, idempotency_key: str) -> str | None:
        """The transfer made earlier under this key, if any (recovery after a
        crash between the call and recording its result)."""
        ...

    async def register_card(
        self, *, customer_id: str | None, payment_method_id: str, email: str | None, name: str
    ) -> CardRegistration:
        """Keeps a card for the citizen's later co-payments."""
        ...


# Cards the offline gateway declines, as Stripe's test cards of the same name do.
DECLINING_TEST_CARDS = frozenset({"pm_card_chargeCustomerFail", "pm_card_visa_chargeDeclined"})


@dataclass
class OfflineGateway:
    """Keeps its own ledger in memory and answers at once. Keys behave as they
    do at Stripe: the same key returns the first result. ``calls`` lists the
    money moves actually made (a repeated key adds nothing)."""

    name: str = "offline"
    calls: list[tuple[str, str]] = field(default_factory=list)
    _results: dict[str, str] = field(default_factory=dict)
    _transfers: dict[str, int] = field(default_factory=dict)  # reference → øre, for tests

    def _once(self, operation: str, idempotency_key: str, result: str) -> str:
        if idempotency_key not in self._results:
            self._results[idempotency_key] = result
            self.calls.append((operation, idempotency_key))
        return self._results[idempotency_key]

    async def authorize(
        self,
        *,
        amount_ore: int,
        customer_id: str | None,
        payment_method_id: str | None,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> Authorization:
        if payment_method_id in DECLINING_TEST_CARDS:
            raise PaymentRefused("The card was declined.")
        reference = self._once("authorize", idempotency_key, f"offline_pi_{idempotency_key}")
        return Authorization(reference=reference, status="authorized")

    async def capture(self, *, reference: str, idempotency_key: str) -> None:
        self._once("capture", idempotency_key, reference)

    async def release(self, *, reference: str, idempotency_key: str) -> None:
        self._once("release", idempotency_key, reference)

    async def transfer(
        self,
        *,
        amount_ore: int,
        destination: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> str:
        if amount_ore <= 0:
            raise PaymentRefused("a transfer must be a positive amount")
        reference = self._once("transfer", idempotency_key, f"offline_tr_{idempotency_key}")
        self._transfers.setdefault(reference, amount_ore)
        return reference

    async def find_transfer(self, *, idempotency_key: str) -> str | None:
        return self._results.get(idempotency_key)

    async def register_card(
        self, *, customer_id: str | None, payment_method_id: str, email: str | None, name: str
    ) -> CardRegistration:
        # The demo's card: nothing is sent anywhere.
        return CardRegistration(
            customer_id=customer_id or f"offline_cus_{len(self._results) + 1}",
            payment_method_id=payment_method_id,
            label="Demo •••• 4242",
        )
