"""A bank refuses one transfer of a payment file (a closed account): the payout
fails with the bank's words, leaves the file, and once "tried again" goes into
the next file under a new EndToEndId; the rest of the file is paid as usual.
A payout is never in two unpaid files and never paid twice."""

import pytest
from lxml import etree
from sqlalchemy import func, select

from market.audit.models import AuditEvent
from market.errors import AppError, Conflict
from market.payouts import service
from market.payouts.models import Payout, PayoutStatus
from tests.factories import login, post_form

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}


def end_to_end_ids(content: str) -> list[str]:
    root = etree.fromstring(content.encode("utf-8"))
    return [e.text for e in root.iterfind(".//p:CdtTrfTxInf/p:PmtId/p:EndToEndId", NS)]


async def two_bank_payouts_in_a_file(session, books):
    first = await books.statement(session, month=9, total_ore=100_00)
    second = await books.statement(session, month=10, total_ore=250_00)
    payouts = await service.create_payouts(
        session, actor=books.admin, statement_ids=[first.id, second.id]
    )
    made = await service.create_payment_file(session, actor=books.admin)
    return payouts, made


async def test_a_refused_transfer_leaves_the_file_and_goes_into_the_next_one(session, books):
    (refused, kept), made = await two_bank_payouts_in_a_file(session, books)
    assert sorted(end_to_end_ids(made.content)) == sorted(
        [refused.idempotency_key, kept.idempotency_key]
    )

    failed = await service.record_bank_refusal(
        session, actor=books.admin, payout_id=refused.id, reason="  Kontoen er lukket  "
    )
    assert failed.status == PayoutStatus.FAILED and failed.last_error == "Kontoen er lukket"
    assert failed.payment_file_id is None
    assert (
        await session.scalar(
            select(func.count()).where(AuditEvent.action == "payout.refused_by_bank")
        )
        == 1
    )

    # The bank confirms the rest of the file: only the other payout is paid.
    await service.mark_file_paid(session, actor=books.admin, file_id=made.id)
    await session.refresh(kept)
    await session.refresh(refused)
    assert (kept.status, refused.status) == (PayoutStatus.PAID, PayoutStatus.FAILED)

    # Fixed and tried again: it goes into a new file with a new EndToEndId.
    requeued = await service.requeue_payout(session, actor=books.admin, payout_id=refused.id)
    assert requeued.status == PayoutStatus.PENDING
    again = await service.create_payment_file(session, actor=books.admin)
    assert again.payouts == 1 and again.total_ore == refused.amount_ore
    assert end_to_end_ids(again.content) == [f"{refused.idempotency_key}-r1"]
    await service.mark_file_paid(session, actor=books.admin, file_id=again.id)
    await session.refresh(refused)
    assert refused.status == PayoutStatus.PAID and refused.payment_file_id == again.id
    # One payout per statement, whatever happened on the way.
    assert await session.scalar(select(func.count()).select_from(Payout)) == 2


async def test_only_a_payout_in_an_unconfirmed_file_can_be_refused(session, books):
    (payout, _), made = await two_bank_payouts_in_a_file(session, books)
    with pytest.raises(AppError) as no_reason:
        await service.record_bank_refusal(
            session, actor=books.admin, payout_id=payout.id, reason="   "
        )
    assert no_reason.value.status_code == 422
    await service.mark_file_paid(session, actor=books.admin, file_id=made.id)
    with pytest.raises(Conflict):
        await service.record_bank_refusal(
            session, actor=books.admin, payout_id=payout.id, reason="Kontoen er lukket"
        )
    await session.refresh(payout)
    assert payout.status == PayoutStatus.PAID and payout.payment_file_id == made.id


async def test_the_admin_records_the_refusal_on_the_page(client, session, books):
    (payout, _), _made = await two_bank_payouts_in_a_file(session, books)
    payout_id = payout.id
    await session.commit()
    await login(client, books.world.user("admin").email)
    page = await client.get("/payouts")
    assert f"/payouts/{payout_id}/bank-refused" in page.text
    response = await post_form(
        client, f"/payouts/{payout_id}/bank-refused", {"reason": "Forkert navn på kontoen"}
    )
    assert response.status_code == 303, response.text
    page = await client.get(response.headers["location"])
    assert "Forkert navn på kontoen" in page.text
    status = await session.scalar(select(Payout.status).where(Payout.id == payout_id))
    assert status == PayoutStatus.FAILED
