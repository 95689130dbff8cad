"""Demo data for co-payments (called by market.demo.seed after the settlement
demo): the month before last issued as the citizens' co-payment statements."""

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from market.auth import service as auth_service
from market.auth.models import User
from market.copayments import service


async def seed(
    session: AsyncSession, *, users: dict[str, User], month_on: date
) -> list[tuple[str, str]]:
    admin = auth_service.actor_for(users["admin@aarhus.example"])
    await service.issue_month(session, actor=admin, month_on=month_on)
    return [("co-payment statements (municipal admin)", "admin@aarhus.example  /copayments")]
