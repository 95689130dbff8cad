"""What every part of payouts checks: the actor's municipality and the payout lifecycle."""

from market.auth.permissions import Actor, Permission, municipality_scope
from market.lifecycle import check_transition as check_lifecycle
from market.payouts.exceptions import NotAMunicipalAdmin, PayoutTransitionRefused
from market.payouts.models import PAYOUT_TRANSITIONS, PayoutStatus


def check_transition(current: PayoutStatus, wanted: PayoutStatus) -> None:
    check_lifecycle(
        PAYOUT_TRANSITIONS,
        current,
        wanted,
        lambda now, then: PayoutTransitionRefused(now.value, then.value),
    )


def managed_municipality(actor: Actor) -> int:
    """The municipality whose payouts the actor manages."""
    return municipality_scope(actor, Permission.PAYOUT_MANAGE, NotAMunicipalAdmin)
