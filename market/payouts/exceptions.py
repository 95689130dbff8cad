from market.errors import N_, Conflict, IllegalTransition, InvalidInput, NotFound, PermissionDenied


class NotAMunicipalAdmin(PermissionDenied):
    def __init__(self) -> None:
        super().__init__(N_("Only the municipality's own staff may pay its statements."))


class StatementNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("That statement does not exist, or is not yours to see."))


class PayoutNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("That payout does not exist, or is not yours to see."))


class PaymentFileNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("That payment file does not exist, or is not yours to see."))


class StatementNotApproved(Conflict):
    def __init__(self, statement_id: int) -> None:
        super().__init__(
            N_("Statement {statement_id} is not approved yet, so it cannot be paid."),
            statement_id=statement_id,
        )


class NothingToPayOut(Conflict):
    def __init__(self, statement_id: int, total: str) -> None:
        super().__init__(
            N_(
                "Statement {statement_id} comes to {total} kr, which is not a payment to the "
                "provider: it is carried into a later month as an adjustment instead."
            ),
            statement_id=statement_id,
            total=total,
        )


class NoApprovedStatements(Conflict):
    def __init__(self) -> None:
        super().__init__(N_("There is no approved statement waiting to be paid."))


class MissingBankAccount(Conflict):
    def __init__(self, provider: str) -> None:
        super().__init__(
            N_(
                "{provider} is paid by bank transfer but has not given an IBAN and a BIC. "
                "The provider must enter them under payout details first."
            ),
            provider=provider,
        )


class MissingStripeAccount(Conflict):
    def __init__(self, provider: str) -> None:
        super().__init__(
            N_(
                "{provider} is paid by Stripe transfer but has not given a Stripe account. "
                "The provider must enter it under payout details first."
            ),
            provider=provider,
        )


class MunicipalityAccountMissing(Conflict):
    def __init__(self) -> None:
        super().__init__(
            N_(
                "The municipality's own bank account (IBAN and BIC) is not set, so no payment "
                "file can be made. Enter it under the municipality's account first."
            )
        )


class NothingForPaymentFile(Conflict):
    def __init__(self) -> None:
        super().__init__(
            N_("There is no bank payout waiting, so there is nothing to put in a payment file.")
        )


class PaymentFilePaidAlready(Conflict):
    def __init__(self) -> None:
        super().__init__(N_("This payment file has already been marked as paid."))


class PayoutTransitionRefused(IllegalTransition):
    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(
            N_("A payout that is {current} cannot become {wanted}."), current=current, wanted=wanted
        )


class InvalidIban(InvalidInput):
    def __init__(self, value: str) -> None:
        super().__init__(
            N_("{value} is not a valid IBAN. Please check it against your bank's statement."),
            value=value,
        )


class InvalidBic(InvalidInput):
    def __init__(self, value: str) -> None:
        super().__init__(
            N_("{value} is not a valid BIC (8 or 11 letters and digits, e.g. DABADKKK)."),
            value=value,
        )


class InvalidStripeAccount(InvalidInput):
    def __init__(self, value: str) -> None:
        super().__init__(
            N_("{value} is not a Stripe account id (it starts with acct_)."), value=value
        )


class UnknownPayoutMethod(InvalidInput):
    def __init__(self) -> None:
        super().__init__(N_("Please choose how the provider is paid: bank transfer or Stripe."))


class NoMonthOrStatements(InvalidInput):
    def __init__(self) -> None:
        super().__init__(N_("Please choose the statements to pay, or a month."))


class PayoutChangedMeanwhile(Conflict):
    def __init__(self) -> None:
        super().__init__(N_("Someone else changed these payouts just now. Please look again."))


class BankRefusalNeedsReason(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            N_("Write what the bank said, e.g. the account is closed, so the payout can be fixed.")
        )
