"""What every part of the settlement checks first: the actor's municipality,
the month, its lock, and a statement within reach."""

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.permissions import Actor, Permission, municipality_scope
from market.clock import last_of_month, today
from market.money import parse_kroner
from market.settlement import repository
from market.settlement.exceptions import (
    MonthBusy,
    NotYourMunicipality,
    StatementNotFound,
)
from market.settlement.models import (
    Statement,
)

COUNT_FIELDS = (
    "delivered",
    "delivered_on_time",
    "provider_fault_failures",
    "citizen_absent",
    "late_cancelled",
    "unfinished_orders",
)

# --- months ---------------------------------------------------------------------


def month_has_ended(month_on: date, on: date | None = None) -> bool:
    return last_of_month(month_on) < (on or today())


def parse_signed_kroner(text: str) -> int:
    """'-12,50' → -1250; a correction can go either way."""
    cleaned = str(text).strip().replace("−", "-")
    negative = cleaned.startswith("-")
    ore = parse_kroner(cleaned.removeprefix("-").strip())
    return -ore if negative else ore


def municipality(actor: Actor, permission: Permission) -> int:
    """The actor's municipality, if the actor holds ``permission`` there."""
    return municipality_scope(actor, permission, NotYourMunicipality)


async def lock_month(session: AsyncSession, municipality_id: int, month_on: date) -> None:
    """Runs and approvals of one month take turns; whoever comes second while
    the first is at work is told so (409) instead of waiting on a request."""
    if not await repository.lock_month(session, municipality_id=municipality_id, month_on=month_on):
        raise MonthBusy()


async def statement_in_scope(
    session: AsyncSession, actor: Actor, statement_id: int, permission: Permission
) -> Statement:
    municipality_id = municipality(actor, permission)
    statement = await repository.get_statement(session, statement_id)
    if statement is None or statement.municipality_id != municipality_id:
        raise StatementNotFound()
    return statement
