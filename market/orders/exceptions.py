from datetime import date

from market.errors import N_, Conflict, IllegalTransition, InvalidInput, NotFound


class OrderNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("That order does not exist, or is not yours to see."))


class OfferNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("That meal is not on offer."))


class AlertNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("That welfare alert does not exist."))


# The states in words, so no English state name reaches a Danish sentence.
STATE_WORDS = {
    "placed": N_("placed"),
    "accepted": N_("accepted"),
    "rejected": N_("rejected"),
    "expired": N_("expired"),
    "cancelled": N_("cancelled"),
    "late cancelled": N_("late cancelled"),
    "out for delivery": N_("out for delivery"),
    "delivered": N_("delivered"),
    "failed": N_("failed"),
}


class OrderTransitionRefused(IllegalTransition):
    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(
            N_("An order that is {current} cannot become {wanted}."),
            current=current.replace("_", " "),
            wanted=wanted.replace("_", " "),
        )

    def sentence(self) -> str:
        from market.i18n import gettext, sentence

        words = {k: gettext(STATE_WORDS.get(str(v), str(v))) for k, v in self.params.items()}
        return sentence(self.message, words)


class AlreadyAcknowledged(Conflict):
    def __init__(self) -> None:
        super().__init__(N_("Someone has already acknowledged this."))


class PastCutoff(Conflict):
    def __init__(self, day: date, cutoff: str) -> None:
        super().__init__(
            N_("It is too late to order for {day}: orders had to be in by {cutoff}."),
            day=day.isoformat(),
            cutoff=cutoff,
        )


class NotOfferedThatDay(InvalidInput):
    def __init__(self, day: date) -> None:
        super().__init__(N_("This meal is not offered on {day}."), day=day.isoformat())


class ContainsAllergen(InvalidInput):
    def __init__(self, allergens: str) -> None:
        super().__init__(
            N_("This meal contains {allergens}, which the citizen must not have."),
            allergens=allergens,
        )


class WrongDietForm(InvalidInput):
    def __init__(self, diet_form: str) -> None:
        super().__init__(
            N_("This meal is not made as {diet_form}, which the citizen needs."),
            diet_form=diet_form,
        )


class OutsideServiceArea(InvalidInput):
    def __init__(self, postal_code: str) -> None:
        super().__init__(
            N_("This provider does not deliver to postal code {postal_code}."),
            postal_code=postal_code,
        )


class ProviderNotApproved(Conflict):
    def __init__(self, day: date) -> None:
        super().__init__(
            N_("This provider is not approved to deliver here on {day}."), day=day.isoformat()
        )


class CapacityFull(Conflict):
    def __init__(self, day: date) -> None:
        super().__init__(
            N_("The provider is fully booked on {day}. Please choose another day or meal."),
            day=day.isoformat(),
        )


class AlreadyRated(Conflict):
    def __init__(self) -> None:
        super().__init__(N_("This meal has already been rated."))


class OrderChangedMeanwhile(Conflict):
    def __init__(self) -> None:
        super().__init__(N_("Someone else changed this order just now. Please look at it again."))


class StandingOrderNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("That standing order does not exist, or is not yours to see."))


class IdempotencyKeyReused(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            N_(
                "That idempotency key was already used for a different order. "
                "Use a new key for a new order."
            )
        )


class BeforeDeliveryDay(Conflict):
    def __init__(self, day: date) -> None:
        super().__init__(
            N_(
                "This order is for {day}. It can be sent out, delivered or marked as failed "
                "from its delivery day."
            ),
            day=day.isoformat(),
        )


class PausedThatDay(Conflict):
    def __init__(self, day: date) -> None:
        super().__init__(
            N_("Meals are paused on {day}. End the pause first if you want meals that day."),
            day=day.isoformat(),
        )


class PauseNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("That pause does not exist, or is not yours to see."))


class PauseOverlaps(Conflict):
    def __init__(self) -> None:
        super().__init__(
            N_("There is already a pause in that period. Change its end date instead.")
        )


class PauseEnded(Conflict):
    def __init__(self) -> None:
        super().__init__(N_("That pause has already ended."))
