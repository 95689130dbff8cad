from datetime import date

from market.auth.exceptions import (  # noqa: F401  (re-exported: signing in is auth's)
    LetterCodeBackedOff,
    LetterCodeExpired,
    LetterCodeInvalid,
)
from market.errors import (
    N_,
    AppError,
    Conflict,
    IllegalTransition,
    InvalidInput,
    NotFound,
)


class InvalidCpr(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            N_(
                "The CPR number must be 10 digits (DDMMYY-SSSS) "
                "and begin with a real date of birth."
            )
        )


class CitizenNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("That citizen does not exist, or is not yours to see."))


class CitizenExists(Conflict):
    def __init__(self) -> None:
        super().__init__(N_("A citizen with this CPR number is already registered here."))


class GrantNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("That voucher grant does not exist, or is not yours to see."))


class NoGrantForDate(NotFound):
    def __init__(self, day: date) -> None:
        super().__init__(N_("There is no active voucher for {day}."), day=day.isoformat())


class CapMissing(InvalidInput):
    def __init__(self, year: int) -> None:
        super().__init__(
            N_(
                "No co-payment cap is set for {year}. A municipal administrator must set "
                "the cap for {year} before vouchers can be granted for that year."
            ),
            year=year,
        )


class CopaymentOverCap(InvalidInput):
    def __init__(self, copayment: str, cap: str, year: int) -> None:
        super().__init__(
            N_("The co-payment {copayment} kr. is more than the cap of {cap} kr. for {year}."),
            copayment=copayment,
            cap=cap,
            year=year,
        )


class NoUnitsLeft(Conflict):
    code = "no_units_left"

    def __init__(self, week: int) -> None:
        super().__init__(N_("No voucher units are left for week {week}."), week=week)


class NotEnoughReserved(Conflict):
    def __init__(self, week: int) -> None:
        super().__init__(
            N_("There are not that many reserved voucher units in week {week}."), week=week
        )


class GrantNotUsable(Conflict):
    def __init__(self, status: str) -> None:
        super().__init__(
            N_("This voucher is {status} and can no longer be used to order."), status=status
        )


class OutsideValidity(InvalidInput):
    def __init__(self, day: date, valid_from: date, valid_to: date) -> None:
        super().__init__(
            N_("The voucher is valid from {valid_from} to {valid_to}; {day} is outside that."),
            day=day.isoformat(),
            valid_from=valid_from.isoformat(),
            valid_to=valid_to.isoformat(),
        )


class GrantTransitionRefused(IllegalTransition):
    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(
            N_("A voucher that is {current} cannot become {wanted}."),
            current=current,
            wanted=wanted,
        )


class NotYourCitizen(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("You are not linked to that citizen."))


class ProxyNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("That proxy link does not exist."))


class LedgerBroken(AppError):
    """An invariant the ledger relies on did not hold: a bug, never the user's fault."""

    status_code = 500
    code = "ledger_broken"


class BadInput(InvalidInput):
    """A form value that is not what it should be; the sentence names it."""


class SearchTooLong(InvalidInput):
    def __init__(self, limit: int) -> None:
        super().__init__(N_("A search can be at most {limit} characters long."), limit=limit)
