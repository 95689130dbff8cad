"""Demo data for this domain (called by market.demo.seed)."""

from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.models import User
from market.config import Settings
from market.municipalities.models import Municipality


async def seed(
    session: AsyncSession,
    *,
    municipalities: list[Municipality],
    users: dict[str, User],
    password: str,
    settings: Settings,
) -> list[tuple[str, str]]:
    return []
