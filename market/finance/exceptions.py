from market.errors import N_, Conflict, InvalidInput, NotFound, PermissionDenied


class NotMunicipalStaff(PermissionDenied):
    def __init__(self) -> None:
        super().__init__(N_("Only staff of a municipality can see its finance documents."))


class EInvoiceStatementNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("That statement does not exist, or is not yours to see."))


class CreditNoteNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(
            N_(
                "That credit note does not exist. A credit note is made for an adjustment "
                "that lowers an approved statement."
            )
        )


class StatementNotApprovedYet(Conflict):
    def __init__(self) -> None:
        super().__init__(
            N_("The statement is not approved yet. An e-invoice is made for approved statements.")
        )


class NothingToInvoice(Conflict):
    def __init__(self) -> None:
        super().__init__(
            N_(
                "This statement only carries deductions from earlier months; they are sent as "
                "credit notes, so there is no invoice for it."
            )
        )


class EInvoiceSettingsMissing(Conflict):
    def __init__(self) -> None:
        super().__init__(
            N_(
                "The municipality's EAN/GLN location number and buyer reference must be set "
                "(municipality settings) before e-invoices can be made."
            )
        )


class InvalidGln(InvalidInput):
    def __init__(self, value: str) -> None:
        super().__init__(
            N_(
                "'{value}' is not a valid EAN/GLN location number: it has 13 digits, "
                "the last one a check digit."
            ),
            value=value,
        )


class InvalidBuyerReference(InvalidInput):
    def __init__(self) -> None:
        super().__init__(N_("The buyer reference must be between 1 and 100 characters."))


class UnknownPainVersion(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            N_("Choose pain.001.001.03 or pain.001.001.09 as the payment file version.")
        )


class BadPage(InvalidInput):
    def __init__(self) -> None:
        super().__init__(N_("The page must be 1 or more, and the page size between 1 and 200."))
