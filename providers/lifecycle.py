"""The providers' lifecycles: quality standards, applications and approvals,
each an enum with its transition table, checked by the shell's one
``market.lifecycle.check_transition`` with a whole sentence per refused move."""

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from enum import StrEnum
from typing import TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncSession

from market import lifecycle
from market.errors import (
    N_,
    Conflict,
    IllegalTransition,
)
from providers import repository as rows
from providers.models import (
    Application,
    ApplicationStatus,
    Approval,
    ApprovalStatus,
    QualityStandard,
    StandardStatus,
)

S = TypeVar("S", bound=StrEnum)


STANDARD_TRANSITIONS: dict[StandardStatus, frozenset[StandardStatus]] = {
    StandardStatus.DRAFT: frozenset({StandardStatus.PUBLISHED}),
    StandardStatus.PUBLISHED: frozenset({StandardStatus.SUPERSEDED}),
    StandardStatus.SUPERSEDED: frozenset(),
}


APPLICATION_TRANSITIONS: dict[ApplicationStatus, frozenset[ApplicationStatus]] = {
    ApplicationStatus.DRAFT: frozenset({ApplicationStatus.SUBMITTED, ApplicationStatus.WITHDRAWN}),
    ApplicationStatus.SUBMITTED: frozenset(
        {ApplicationStatus.APPROVED, ApplicationStatus.REJECTED, ApplicationStatus.WITHDRAWN}
    ),
    ApplicationStatus.APPROVED: frozenset(),
    ApplicationStatus.REJECTED: frozenset(),
    ApplicationStatus.WITHDRAWN: frozenset(),
}


APPROVAL_TRANSITIONS: dict[ApprovalStatus, frozenset[ApprovalStatus]] = {
    ApprovalStatus.ACTIVE: frozenset(
        {ApprovalStatus.SUSPENDED, ApprovalStatus.REVOKED, ApprovalStatus.REPLACED}
    ),
    ApprovalStatus.SUSPENDED: frozenset({ApprovalStatus.ACTIVE, ApprovalStatus.REVOKED}),
    ApprovalStatus.REVOKED: frozenset(),
    ApprovalStatus.REPLACED: frozenset(),
}


# Whole sentences, so each reads right once translated: "An approval that is
# revoked cannot be reinstated." Moves nobody can ask for share the fallback.
_REFUSALS: dict[tuple[type[StrEnum], StrEnum, StrEnum], str] = {
    (StandardStatus, StandardStatus.PUBLISHED, StandardStatus.PUBLISHED): N_(
        "A quality standard that is published cannot be published."
    ),
    (StandardStatus, StandardStatus.SUPERSEDED, StandardStatus.PUBLISHED): N_(
        "A quality standard that is superseded cannot be published."
    ),
    (ApplicationStatus, ApplicationStatus.DRAFT, ApplicationStatus.APPROVED): N_(
        "An application that is a draft cannot be approved."
    ),
    (ApplicationStatus, ApplicationStatus.APPROVED, ApplicationStatus.APPROVED): N_(
        "An application that is approved cannot be approved."
    ),
    (ApplicationStatus, ApplicationStatus.REJECTED, ApplicationStatus.APPROVED): N_(
        "An application that is rejected cannot be approved."
    ),
    (ApplicationStatus, ApplicationStatus.WITHDRAWN, ApplicationStatus.APPROVED): N_(
        "An application that is withdrawn cannot be approved."
    ),
    (ApplicationStatus, ApplicationStatus.DRAFT, ApplicationStatus.REJECTED): N_(
        "An application that is a draft cannot be rejected."
    ),
    (ApplicationStatus, ApplicationStatus.APPROVED, ApplicationStatus.REJECTED): N_(
        "An application that is approved cannot be rejected."
    ),
    (ApplicationStatus, ApplicationStatus.REJECTED, ApplicationStatus.REJECTED): N_(
        "An application that is rejected cannot be rejected."
    ),
    (ApplicationStatus, ApplicationStatus.WITHDRAWN, ApplicationStatus.REJECTED): N_(
        "An application that is withdrawn cannot be rejected."
    ),
    (ApplicationStatus, ApplicationStatus.APPROVED, ApplicationStatus.WITHDRAWN): N_(
        "An application that is approved cannot be withdrawn."
    ),
    (ApplicationStatus, ApplicationStatus.REJECTED, ApplicationStatus.WITHDRAWN): N_(
        "An application that is rejected cannot be withdrawn."
    ),
    (ApplicationStatus, ApplicationStatus.WITHDRAWN, ApplicationStatus.WITHDRAWN): N_(
        "An application that is withdrawn cannot be withdrawn."
    ),
    (ApprovalStatus, ApprovalStatus.ACTIVE, ApprovalStatus.ACTIVE): N_(
        "An approval that is active cannot be reinstated."
    ),
    (ApprovalStatus, ApprovalStatus.REVOKED, ApprovalStatus.ACTIVE): N_(
        "An approval that is revoked cannot be reinstated."
    ),
    (ApprovalStatus, ApprovalStatus.REPLACED, ApprovalStatus.ACTIVE): N_(
        "An approval that is replaced cannot be reinstated."
    ),
    (ApprovalStatus, ApprovalStatus.SUSPENDED, ApprovalStatus.SUSPENDED): N_(
        "An approval that is suspended cannot be suspended."
    ),
    (ApprovalStatus, ApprovalStatus.REVOKED, ApprovalStatus.SUSPENDED): N_(
        "An approval that is revoked cannot be suspended."
    ),
    (ApprovalStatus, ApprovalStatus.REPLACED, ApprovalStatus.SUSPENDED): N_(
        "An approval that is replaced cannot be suspended."
    ),
    (ApprovalStatus, ApprovalStatus.REVOKED, ApprovalStatus.REVOKED): N_(
        "An approval that is revoked cannot be revoked."
    ),
    (ApprovalStatus, ApprovalStatus.REPLACED, ApprovalStatus.REVOKED): N_(
        "An approval that is replaced cannot be revoked."
    ),
    (ApprovalStatus, ApprovalStatus.SUSPENDED, ApprovalStatus.REPLACED): N_(
        "An approval that is suspended cannot be replaced by a new approval. "
        "Reinstate or revoke it first."
    ),
    (ApprovalStatus, ApprovalStatus.REVOKED, ApprovalStatus.REPLACED): N_(
        "An approval that is revoked cannot be replaced by a new approval."
    ),
    (ApprovalStatus, ApprovalStatus.REPLACED, ApprovalStatus.REPLACED): N_(
        "An approval that is replaced cannot be replaced by a new approval."
    ),
}


_REFUSAL_FALLBACK = N_("That change is not possible in the current state.")


_CHANGED_MEANWHILE: dict[type[StrEnum], str] = {
    StandardStatus: N_(
        "The quality standard was changed by someone else just now. Please reload and try again."
    ),
    ApplicationStatus: N_(
        "The application was changed by someone else just now. Please reload and try again."
    ),
    ApprovalStatus: N_(
        "The approval was changed by someone else just now. Please reload and try again."
    ),
}


NOT_EDITABLE: dict[ApplicationStatus, str] = {
    ApplicationStatus.SUBMITTED: N_("An application that is submitted cannot be changed."),
    ApplicationStatus.APPROVED: N_("An application that is approved cannot be changed."),
    ApplicationStatus.REJECTED: N_("An application that is rejected cannot be changed."),
    ApplicationStatus.WITHDRAWN: N_("An application that is withdrawn cannot be changed."),
}


NOT_REVIEWABLE: dict[ApplicationStatus, str] = {
    ApplicationStatus.DRAFT: N_("An application that is a draft cannot be reviewed."),
    ApplicationStatus.APPROVED: N_("An application that is approved cannot be reviewed."),
    ApplicationStatus.REJECTED: N_("An application that is rejected cannot be reviewed."),
    ApplicationStatus.WITHDRAWN: N_("An application that is withdrawn cannot be reviewed."),
}


def refuse(current: StrEnum, target: StrEnum) -> IllegalTransition:
    """The sentence for a move the table refuses."""
    return IllegalTransition(_REFUSALS.get((type(current), current, target), _REFUSAL_FALLBACK))


def check_transition(transitions: Mapping[S, AbstractSet[S]], current: S, target: S) -> None:
    """The shell's one lifecycle check, with this domain's refusal sentences."""
    lifecycle.check_transition(transitions, current, target, refuse)


async def move(
    session: AsyncSession,
    row: Application | Approval | QualityStandard,
    transitions: Mapping[S, AbstractSet[S]],
    target: S,
    **values: object,
) -> None:
    """Checks the move against the table and makes it with one conditional
    UPDATE, so a concurrent change by someone else is refused, not overwritten."""
    current = cast(S, row.status)
    check_transition(transitions, current, target)
    assert row.id is not None
    if not await rows.move_status(session, type(row), row.id, current, target, values):
        raise Conflict(_CHANGED_MEANWHILE[type(current)])
