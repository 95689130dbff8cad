"""The dead-letter page in a real browser: a municipal admin finds an e-mail that
was given up on, tries it again, and the page says it is queued (axe-checked)."""

import asyncio
import json
import re

import pytest
from playwright.sync_api import Page, expect

from market.admin_tasks import unit_of_work
from market.municipalities import repository as municipalities
from market.outbox import repository as outbox
from market.outbox.models import OutboxKind
from tests.e2e.conftest import _, _in_thread, assert_accessible

pytestmark = pytest.mark.browser


async def _give_up_on_an_email(settings) -> int:
    async with unit_of_work(settings) as session:
        aarhus = await municipalities.get_by_code(session, "0751")
        await outbox.add_once(
            session,
            kind=OutboxKind.EMAIL,
            idempotency_key="e2e:dead-letter",
            payload_json=json.dumps({"to": ["vagt@aarhus.example"], "subject": "s", "body": "b"}),
            municipality_id=aarhus.id,
        )
        message = await outbox.by_key(session, "e2e:dead-letter")
        await outbox.mark_failed(
            session, message_id=message.id, error="550 mailbox unavailable", retry_at=None
        )
        return message.id


def test_an_admin_retries_a_message_given_up_on(page: Page, login_as, live_server) -> None:
    message_id = _in_thread(asyncio.run, _give_up_on_an_email(live_server.settings))
    login_as(page, "admin@aarhus.example")
    page.get_by_role("link", name=re.compile(_("Messages given up on"))).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(_("Messages given up on"))
    expect(page.get_by_role("table")).to_contain_text("550 mailbox unavailable")
    assert_accessible(page)
    page.get_by_role("button", name=_("Try message %(id)s again") % {"id": message_id}).click()
    expect(page.get_by_role("status")).to_contain_text(
        _("The message is queued again and goes out with the next periodic run.")
    )
    expect(page.get_by_text("550 mailbox unavailable")).to_have_count(0)
    assert_accessible(page)
