from market.errors import N_, AppError, InvalidInput


class BadWebhookSignature(AppError):
    status_code = 400

    def __init__(self) -> None:
        super().__init__(
            N_("The Stripe-Signature header does not match this request; nothing was stored.")
        )


class WebhookNotConfigured(AppError):
    status_code = 400

    def __init__(self) -> None:
        super().__init__(
            N_("Stripe webhooks are not set up here (no webhook secret); nothing was stored.")
        )


class CardNeeded(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            N_("Paying by card needs a card. Register it at the municipality's service desk.")
        )


class CardNotAccepted(InvalidInput):
    def __init__(self, reason: str) -> None:
        super().__init__(N_("The card could not be registered: {reason}"), reason=reason)


class PaymentGatewayDown(AppError):
    status_code = 503

    def __init__(self) -> None:
        super().__init__(
            N_("The card service cannot be reached just now. Please try again in a few minutes.")
        )
