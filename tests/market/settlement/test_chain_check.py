"""An auditor holding an approved statement checks it against the audit chain:
intact, the recorded head unchanged, and the approval event stating what the
statement shows. Each way of tampering is caught."""

import pytest
from sqlalchemy import select, update

from market.audit.models import AuditEvent
from market.errors import Conflict
from market.settlement import service
from market.settlement.models import Statement, StatementLine
from tests.factories import login
from tests.market.settlement.conftest import PREVIOUS, insert_month


async def approved_statement(session, contract) -> int:
    await insert_month(session, contract, PREVIOUS, on_time=20, late=2, absent=1)
    await service.run_month(session, actor=contract.admin, month_on=PREVIOUS)
    [statement] = await service.approve_month(session, actor=contract.admin2, month_on=PREVIOUS)
    assert statement.id is not None
    # Later history on top of the approval, as in any living municipality.
    await service.add_adjustment(
        session, actor=contract.admin, statement_id=statement.id, amount_ore=-100, reason="x"
    )
    return statement.id


async def oks(session, contract, statement_id) -> list[bool]:
    result = await service.check_statement(
        session, actor=contract.auditor, statement_id=statement_id
    )
    return [check.ok for check in result.checks]


async def test_an_untouched_statement_passes_every_check(session, contract):
    statement_id = await approved_statement(session, contract)
    assert await oks(session, contract, statement_id) == [True, True, True]


async def test_an_event_under_the_statement_edited_in_place_is_caught(session, contract):
    statement_id = await approved_statement(session, contract)
    statement = await session.get(Statement, statement_id)
    await session.execute(
        update(AuditEvent)
        .where(AuditEvent.seq == statement.audit_chain_seq - 1)
        .where(AuditEvent.municipality_id == contract.ids["municipality"])
        .values(data_json='{"rewritten":true}')
    )
    assert (await oks(session, contract, statement_id))[0] is False


async def test_history_rewritten_with_fresh_hashes_is_caught_by_the_recorded_head(
    session, contract
):
    """Someone who rewrites an event and recomputes every hash after it (and the
    head) with the audit key leaves a chain that verifies; the head recorded on
    the statement still tells."""
    from market.audit.keys import current_keys
    from market.audit.models import AuditChainHead
    from market.audit.service import _row_values, chain_for, keyed_event_hash

    keys = current_keys()

    statement_id = await approved_statement(session, contract)
    statement = await session.get(Statement, statement_id)
    chain = chain_for(contract.ids["municipality"])
    events = (
        (
            await session.execute(
                select(AuditEvent)
                .where(AuditEvent.chain == chain, AuditEvent.seq >= statement.audit_chain_seq)
                .order_by(AuditEvent.seq)
            )
        )
        .scalars()
        .all()
    )
    previous = None
    for event in events:
        if event.seq == statement.audit_chain_seq:
            event.data_json = '{"rewritten":true}'
        if previous is not None:
            event.prev_hash = previous
        event.hash = keyed_event_hash(_row_values(event), key=keys.current, key_id=event.key_id)
        previous = event.hash
    head = await session.get(AuditChainHead, chain)
    head.hash = previous
    await session.flush()

    assert await oks(session, contract, statement_id) == [True, False, False]


async def test_a_statement_changed_after_approval_is_caught(session, contract):
    statement_id = await approved_statement(session, contract)
    await session.execute(update(Statement).where(Statement.id == statement_id).values(total_ore=1))
    assert (await oks(session, contract, statement_id))[2] is False
    await session.execute(
        update(StatementLine)
        .where(StatementLine.statement_id == statement_id, StatementLine.position == 1)
        .values(amount_ore=StatementLine.amount_ore + 1)
    )
    assert (await oks(session, contract, statement_id))[2] is False


async def test_a_draft_cannot_be_checked(session, contract):
    await insert_month(session, contract, PREVIOUS, on_time=3)
    await service.run_month(session, actor=contract.admin, month_on=PREVIOUS)
    draft = (await session.execute(select(Statement))).scalar_one()
    with pytest.raises(Conflict):
        await service.check_statement(session, actor=contract.auditor, statement_id=draft.id)


async def test_the_auditor_reads_the_check_page_and_a_provider_may_not(client, session, contract):
    statement_id = await approved_statement(session, contract)
    await session.commit()
    await login(client, contract.world.user("auditor").email)
    page = await client.get(f"/settlement/statements/{statement_id}")
    assert f"/settlement/statements/{statement_id}/chain-check" in page.text
    check = await client.get(f"/settlement/statements/{statement_id}/chain-check")
    assert check.status_code == 200
    assert check.text.count("Passed:") == 4  # the summary and each of three checks
    assert "Failed" not in check.text

    await login(client, contract.world.user("provider_admin").email)
    refused = await client.get(f"/settlement/statements/{statement_id}/chain-check")
    assert refused.status_code == 403
