"""Keys and order references the ledger is given always fit its columns
(idempotency_key VARCHAR(200), order_ref VARCHAR(100)) on SQLite and PostgreSQL
alike: a long one is derived to fit, never a misleading refusal or an overflow."""

from sqlalchemy import select

from tests.vouchers.conftest import make_grant
from vouchers import service
from vouchers.models import LedgerTransfer


async def test_a_long_key_and_order_ref_fit_and_replay(session, citizen, case_worker, monday):
    grant = await make_grant(session, case_worker, citizen, monday)
    key = "order:" + "k" * 200 + ":reserve"  # 214 characters: over the column
    ref = "order-key:" + "r" * 150  # 160 characters: over order_ref
    first = await service.reserve(
        session,
        grant_id=grant.id,
        delivery_on=monday,
        units=1,
        idempotency_key=key,
        actor=case_worker,
        order_ref=ref,
    )
    assert not first.replayed
    assert len(first.idempotency_key) <= 200 and len(first.order_ref or "") <= 100
    again = await service.reserve(
        session,
        grant_id=grant.id,
        delivery_on=monday,
        units=1,
        idempotency_key=key,
        actor=case_worker,
        order_ref=ref,
    )
    assert again.replayed and again.transfer_id == first.transfer_id
    released = await service.release(
        session,
        grant_id=grant.id,
        delivery_on=monday,
        units=1,
        idempotency_key="order:" + "k" * 200 + ":release",
        actor=case_worker,
        order_ref=ref,
        today=monday,
    )
    assert released.order_ref == first.order_ref  # the same reference, derived alike
    stored = (
        await session.execute(select(LedgerTransfer).where(LedgerTransfer.id == first.transfer_id))
    ).scalar_one()
    assert stored.idempotency_key == first.idempotency_key


async def test_a_key_of_the_column_length_is_kept_as_it_is(session, citizen, case_worker, monday):
    grant = await make_grant(session, case_worker, citizen, monday)
    move = await service.reserve(
        session,
        grant_id=grant.id,
        delivery_on=monday,
        units=1,
        idempotency_key="k" * 200,
        actor=case_worker,
        order_ref="r" * 100,
    )
    assert move.idempotency_key == "k" * 200 and move.order_ref == "r" * 100
