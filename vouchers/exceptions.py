from datetime import date

from market.errors import (
    N_,
    AppError,
    Conflict,
    IllegalTransition,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    TooManyRequests,
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


class LetterCodeInvalid(NotAuthenticated):
    keeps_changes = True  # the failed use is an audit event and must be stored

    def __init__(self) -> None:
        super().__init__(
            N_(
                "This code is not valid. It may be mistyped, used already, or replaced "
                "by a newer letter. Please call the municipality for a new letter."
            )
        )


class LetterCodeBackedOff(TooManyRequests):
    def __init__(self, seconds: int) -> None:
        super().__init__(
            N_(
                "Too many codes were tried. Please wait {seconds} seconds and try again, "
                "or call the municipality for help."
            ),
            seconds=seconds,
        )


class LetterCodeExpired(NotAuthenticated):
    keeps_changes = True

    def __init__(self) -> None:
        super().__init__(
            N_("This code has expired. Please call the municipality for a new letter.")
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
