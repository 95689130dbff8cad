"""The payment gateway through Stripe's official SDK (``StripeClient``, async
calls). Every call that moves money carries ``options={"idempotency_key": …}``;
Stripe keeps keys for 24 hours, so transfers also carry the key as their
``transfer_group`` and in their metadata, and ``find_transfer`` finds an
earlier transfer by listing that group, however long ago it was made."""

import stripe
from stripe.params import CustomerCreateParams, PaymentIntentCreateParams

from market.config import Settings
from market.payments.gateway import (
    Authorization,
    CardRegistration,
    GatewayUnavailable,
    PaymentRefused,
)


def _unavailable_or_refused(exc: stripe.StripeError) -> Exception:
    """The gateway's two answers: try again later, or a final no."""
    if isinstance(exc, stripe.CardError):
        intent = getattr(getattr(exc, "error", None), "payment_intent", None)
        reference = getattr(intent, "id", None) if intent is not None else None
        return PaymentRefused(exc.user_message or "The card was declined.", reference=reference)
    if isinstance(
        exc,
        stripe.APIConnectionError
        | stripe.RateLimitError
        | stripe.AuthenticationError
        | stripe.PermissionError,
    ):
        # A wrong key or a network fault is fixed by a person or by time; the
        # same key makes the later retry safe.
        return GatewayUnavailable(str(exc) or type(exc).__name__)
    if (exc.http_status or 0) >= 500 or isinstance(exc, stripe.APIError):
        return GatewayUnavailable(str(exc) or "Stripe answered with a server error.")
    return PaymentRefused(exc.user_message or str(exc) or "Stripe refused the request.")


class StripeGateway:
    """``PaymentGateway`` for Stripe. Amounts are øre (Stripe's smallest unit of DKK)."""

    name = "stripe"

    def __init__(self, settings: Settings, client: stripe.StripeClient | None = None) -> None:
        self.currency = settings.currency.lower()
        if client is None:
            if settings.stripe_api_key is None:
                raise ValueError("MARKET_STRIPE_API_KEY must be set to use the Stripe gateway.")
            base = settings.stripe_api_base
            client = stripe.StripeClient(
                settings.stripe_api_key.get_secret_value(),
                base_addresses={"api": base} if base else {},
                max_network_retries=settings.stripe_max_network_retries,
            )
        self.client = client

    async def authorize(
        self,
        *,
        amount_ore: int,
        customer_id: str | None,
        payment_method_id: str | None,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> Authorization:
        if not payment_method_id:
            raise PaymentRefused("No card is registered for this citizen.")
        params: PaymentIntentCreateParams = {
            "amount": amount_ore,
            "currency": self.currency,
            "payment_method": payment_method_id,
            "capture_method": "manual",
            "confirm": True,
            # The citizen is not at the screen when a standing order is placed.
            "off_session": True,
            "metadata": {**metadata, "idempotency_key": idempotency_key},
        }
        if customer_id:
            params["customer"] = customer_id
        try:
            intent = await self.client.v1.payment_intents.create_async(
                params, {"idempotency_key": idempotency_key}
            )
        except stripe.StripeError as exc:
            raise _unavailable_or_refused(exc) from exc
        if intent.status not in ("requires_capture", "succeeded"):
            raise PaymentRefused(
                f"The card was not authorised (Stripe status {intent.status}).",
                reference=intent.id,
            )
        return Authorization(reference=intent.id, status="authorized")

    async def _status(self, reference: str) -> str:
        try:
            intent = await self.client.v1.payment_intents.retrieve_async(reference)
        except stripe.StripeError as exc:
            raise _unavailable_or_refused(exc) from exc
        return str(intent.status)

    async def capture(self, *, reference: str, idempotency_key: str) -> None:
        try:
            intent = await self.client.v1.payment_intents.capture_async(
                reference, options={"idempotency_key": idempotency_key}
            )
        except stripe.InvalidRequestError as exc:
            # Already captured (say, before a crash) is what we wanted; a
            # cancelled or expired authorisation cannot be captured any more.
            status = await self._status(reference)
            if status == "succeeded":
                return
            raise PaymentRefused(
                f"The authorisation can no longer be captured (Stripe status {status}).",
                reference=reference,
            ) from exc
        except stripe.StripeError as exc:
            raise _unavailable_or_refused(exc) from exc
        # Only "succeeded" means the money was taken (a test double may answer
        # a capture of a cancelled intent without an error).
        if intent.status != "succeeded":
            raise PaymentRefused(
                f"The authorisation can no longer be captured (Stripe status {intent.status}).",
                reference=reference,
            )

    async def release(self, *, reference: str, idempotency_key: str) -> None:
        try:
            intent = await self.client.v1.payment_intents.cancel_async(
                reference, options={"idempotency_key": idempotency_key}
            )
        except stripe.InvalidRequestError as exc:
            status = await self._status(reference)
            if status == "canceled":
                return
            raise PaymentRefused(
                f"The authorisation cannot be released (Stripe status {status}).",
                reference=reference,
            ) from exc
        except stripe.StripeError as exc:
            raise _unavailable_or_refused(exc) from exc
        if intent.status != "canceled":
            raise PaymentRefused(
                f"The authorisation cannot be released (Stripe status {intent.status}).",
                reference=reference,
            )

    async def transfer(
        self,
        *,
        amount_ore: int,
        destination: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> str:
        if amount_ore <= 0:
            raise PaymentRefused("A transfer must be a positive amount.")
        try:
            transfer = await self.client.v1.transfers.create_async(
                {
                    "amount": amount_ore,
                    "currency": self.currency,
                    "destination": destination,
                    "transfer_group": idempotency_key,
                    "metadata": {**metadata, "idempotency_key": idempotency_key},
                },
                {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise _unavailable_or_refused(exc) from exc
        return str(transfer.id)

    async def find_transfer(self, *, idempotency_key: str) -> str | None:
        try:
            found = await self.client.v1.transfers.list_async(
                {"transfer_group": idempotency_key, "limit": 10}
            )
        except stripe.StripeError as exc:
            raise _unavailable_or_refused(exc) from exc
        for transfer in found.data:
            # Since SDK 15 a StripeObject is not a dict.
            metadata = transfer.metadata.to_dict() if transfer.metadata else {}
            if metadata.get("idempotency_key") == idempotency_key:
                return str(transfer.id)
        return None

    async def register_card(
        self, *, customer_id: str | None, payment_method_id: str, email: str | None, name: str
    ) -> CardRegistration:
        """Attaches a PaymentMethod made with Stripe.js (or at the service desk's
        terminal) to the citizen's Customer, creating the Customer if needed."""
        try:
            if customer_id is None:
                params: CustomerCreateParams = {"name": name}
                if email:
                    params["email"] = email
                customer = await self.client.v1.customers.create_async(params)
                customer_id = str(customer.id)
            method = await self.client.v1.payment_methods.attach_async(
                payment_method_id, {"customer": customer_id}
            )
        except stripe.StripeError as exc:
            raise _unavailable_or_refused(exc) from exc
        card = getattr(method, "card", None)
        label = (
            f"{str(card.brand).capitalize()} •••• {card.last4}"
            if card is not None
            else payment_method_id
        )
        return CardRegistration(
            customer_id=customer_id, payment_method_id=str(method.id), label=label
        )
