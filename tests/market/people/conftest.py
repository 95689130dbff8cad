import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.app import create_app
from market.config import Settings
from market.outbox.models import OutboxMessage


@pytest.fixture
def mail_settings(settings: Settings) -> Settings:
    """E-mail switched on (the outbox only queues mail when SMTP is set); nothing is
    sent in these tests, the queued message is read back from the outbox."""
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "public_url": "https://velfaerd.example",
            "password_reset_answer_seconds": 0.2,
        }
    )


@pytest.fixture
async def mail_client(mail_settings: Settings, session: AsyncSession):
    @asynccontextmanager
    async def provide() -> AsyncIterator[AsyncSession]:
        yield session

    app = create_app(mail_settings, session_provider=provide)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


async def mails_to(session: AsyncSession, address: str) -> list[dict]:
    rows = (await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars()
    payloads = [json.loads(row.payload_json) for row in rows]
    return [p for p in payloads if address in p.get("to", [])]


def link_in(mail: dict, base: str = "https://velfaerd.example") -> str:
    """The path of the link in a mail (the test client speaks to the app directly)."""
    for word in mail["body"].split():
        if word.startswith(base):
            return word.removeprefix(base)
    raise AssertionError(f"no link in {mail['body']!r}")
