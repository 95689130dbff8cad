"""What co-production refuses, in sentences a person understands."""

from market.errors import N_, Conflict, IllegalTransition, NotFound, PermissionDenied


class PartnerNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("There is no such association."))


class ActivityNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("There is no such activity."))


class RequestNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("There is no such request for a meal companion."))


class VisitNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("There is no such visit."))


class BookingNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("There is no such booking."))


class MemberNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("There is no such volunteer."))


class NotAMember(PermissionDenied):
    def __init__(self) -> None:
        super().__init__(N_("Your account does not belong to an association any more."))


class PartnerNotApproved(Conflict):
    def __init__(self) -> None:
        super().__init__(
            N_(
                "The association is not approved by the municipality at the moment, so it "
                "cannot publish activities or match volunteers."
            )
        )


class StandardNotMet(Conflict):
    def __init__(self) -> None:
        super().__init__(
            N_("The association must vouch for every point of the municipality's standard.")
        )


class PartnerTransitionRefused(IllegalTransition):
    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(
            N_("An association that is {current} cannot become {wanted}."),
            current=current,
            wanted=wanted,
        )


class RequestTransitionRefused(IllegalTransition):
    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(
            N_("A request that is {current} cannot become {wanted}."),
            current=current,
            wanted=wanted,
        )


class VisitTransitionRefused(IllegalTransition):
    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(
            N_("A visit that is {current} cannot become {wanted}."),
            current=current,
            wanted=wanted,
        )


class SeatTransitionRefused(IllegalTransition):
    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(
            N_("A booking that is {current} cannot become {wanted}."),
            current=current,
            wanted=wanted,
        )


class NoSeatsLeft(Conflict):
    def __init__(self) -> None:
        super().__init__(N_("Every seat at this meal is taken. Please choose another day."))


class AlreadyBooked(Conflict):
    def __init__(self) -> None:
        super().__init__(N_("A seat at this meal is already booked for this person."))


class AlreadyAsked(Conflict):
    def __init__(self) -> None:
        super().__init__(N_("This person has already asked for a meal companion."))


class TooLateToSkip(Conflict):
    def __init__(self) -> None:
        super().__init__(
            N_(
                "The kitchen's deadline for that day's meal has passed, so the home delivery "
                "cannot be skipped without charge. Book the seat without skipping it."
            )
        )


class VisitNotToday(Conflict):
    def __init__(self) -> None:
        super().__init__(N_("A visit can be marked as held on its day or later, not before."))
