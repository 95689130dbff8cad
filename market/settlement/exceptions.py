from datetime import date

from market.errors import N_, Conflict, IllegalTransition, InvalidInput, NotFound, PermissionDenied


class MonthNotEnded(InvalidInput):
    def __init__(self, month_on: date) -> None:
        super().__init__(
            N_("The month {month} has not ended yet. A month can be settled from its next day."),
            month=month_on.strftime("%Y-%m"),
        )


class StatementNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("That statement does not exist, or is not yours to see."))


class LineNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("That statement line does not exist, or is not yours to see."))


class SettledOrderNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("That order does not exist, or is not yours to see."))


class NotYourMunicipality(PermissionDenied):
    def __init__(self) -> None:
        super().__init__(N_("Only staff of a municipality can see or run its settlement."))


class PreparerCannotApprove(PermissionDenied):
    def __init__(self) -> None:
        super().__init__(
            N_(
                "You ran this settlement, so you cannot approve it. "
                "A second person must approve it (four eyes)."
            )
        )


class StatementAlreadyApproved(IllegalTransition):
    def __init__(self) -> None:
        super().__init__(
            N_(
                "This statement is approved and can no longer change. "
                "Add an adjustment to correct it in a later month."
            )
        )


class UnfinishedOrders(Conflict):
    def __init__(self, count: int) -> None:
        super().__init__(
            N_(
                "{count} orders of the month are not finished yet (ordered, confirmed or "
                "on their way). Finish them and run the month again before approving."
            ),
            count=count,
        )


class StatementOutOfDate(Conflict):
    def __init__(self) -> None:
        super().__init__(
            N_(
                "Orders of this month have changed since the settlement was run. "
                "Run the month again, then approve."
            )
        )


class NothingToApprove(Conflict):
    def __init__(self) -> None:
        super().__init__(N_("There are no draft statements to approve in this month."))


class NoTermsInForce(Conflict):
    def __init__(self, approval_id: int, month_on: date) -> None:
        super().__init__(
            N_("Approval {approval} has no contract terms in force in {month}."),
            approval=approval_id,
            month=month_on.strftime("%Y-%m"),
        )


class AdjustmentOnDraft(Conflict):
    def __init__(self) -> None:
        super().__init__(
            N_(
                "Only an approved statement is corrected with an adjustment; "
                "a draft is corrected by running the month again."
            )
        )


class AdjustmentNeedsReason(InvalidInput):
    def __init__(self) -> None:
        super().__init__(N_("Please write why the statement is corrected."))


class AdjustmentNeedsAmount(InvalidInput):
    def __init__(self) -> None:
        super().__init__(N_("An adjustment needs an amount other than 0,00 kr."))


class RunInProgress(Conflict):
    def __init__(self) -> None:
        super().__init__(
            N_("Someone else is running this month just now. Please look at it again in a moment.")
        )


class MonthBusy(Conflict):
    def __init__(self) -> None:
        super().__init__(
            N_(
                "Someone else is running or approving this month just now. "
                "Please look at it again in a moment."
            )
        )


class OnlyApprovedCanBeChecked(Conflict):
    def __init__(self) -> None:
        super().__init__(
            N_(
                "Only an approved statement records the audit chain; approve it first, "
                "then check it."
            )
        )
