"""The voucher ledger: allotment, reserve, release, redeem, expire, idempotency
and the invariants verify_ledger checks."""

from datetime import timedelta

import pytest
from sqlalchemy import update

from tests.vouchers.conftest import ledger_snapshot, make_grant
from vouchers import repository, service
from vouchers.exceptions import GrantNotUsable, NotEnoughReserved, NoUnitsLeft, OutsideValidity
from vouchers.models import NO_WEEK, AccountKind, VoucherAccount


async def balances(session, grant_id, week):
    return {
        kind.value: await repository.balance(session, grant_id, kind, week)
        for kind in (
            AccountKind.AVAILABLE,
            AccountKind.RESERVED,
            AccountKind.REDEEMED,
            AccountKind.EXPIRED,
        )
    }


def test_allotment_is_pro_rata_for_cut_weeks():
    monday = service.week_monday("2026-W48")
    assert monday.isoformat() == "2026-11-23"
    week = "2026-W48"
    assert service.allotment(7, monday, monday + timedelta(days=30), week) == 7
    assert service.allotment(7, monday + timedelta(days=2), monday + timedelta(days=30), week) == 5
    assert service.allotment(7, monday - timedelta(days=9), monday + timedelta(days=2), week) == 3
    assert service.allotment(3, monday + timedelta(days=5), monday + timedelta(days=30), week) == 0
    assert service.allotment(7, monday + timedelta(days=7), monday + timedelta(days=30), week) == 0
    assert service.total_units(7, monday, monday + timedelta(days=27)) == 28
    assert service.iso_week_of(monday) == week and service.week_number(week) == 48


async def test_grant_issues_all_units_and_weeks_are_allotted_lazily(
    session, citizen, case_worker, monday
):
    grant = await make_grant(session, case_worker, citizen, monday, weeks=4, units=7)
    assert await repository.granted_balance(session, grant.id) == 28
    week = service.iso_week_of(monday)
    move = await service.reserve(
        session,
        grant_id=grant.id,
        delivery_on=monday,
        units=2,
        idempotency_key="o1",
        actor=case_worker,
    )
    assert move.units == 2 and not move.replayed
    assert await repository.granted_balance(session, grant.id) == 21
    assert (await balances(session, grant.id, week))["available"] == 5
    assert (await balances(session, grant.id, week))["reserved"] == 2
    assert (await service.verify_ledger(session)).ok


async def test_no_units_left_is_a_409_sentence_and_changes_nothing(
    session, citizen, case_worker, monday
):
    grant = await make_grant(session, case_worker, citizen, monday, units=3)
    await service.reserve(
        session,
        grant_id=grant.id,
        delivery_on=monday,
        units=3,
        idempotency_key="a",
        actor=case_worker,
    )
    before = await ledger_snapshot(session)
    with pytest.raises(NoUnitsLeft) as caught:
        await service.reserve(
            session,
            grant_id=grant.id,
            delivery_on=monday + timedelta(days=1),
            units=1,
            idempotency_key="b",
            actor=case_worker,
        )
    assert caught.value.status_code == 409
    assert (
        str(caught.value)
        == f"No voucher units are left for week {service.week_number(service.iso_week_of(monday))}."
    )
    assert await ledger_snapshot(session) == before
    # the refused key was not used up: it can succeed later
    await service.release(
        session,
        grant_id=grant.id,
        delivery_on=monday,
        units=1,
        idempotency_key="a-cancel",
        actor=case_worker,
    )
    move = await service.reserve(
        session,
        grant_id=grant.id,
        delivery_on=monday,
        units=1,
        idempotency_key="b",
        actor=case_worker,
    )
    assert move.units == 1 and not move.replayed


async def test_replaying_a_key_returns_the_first_result_and_moves_nothing(
    session, citizen, case_worker, monday
):
    grant = await make_grant(session, case_worker, citizen, monday)
    first = await service.reserve(
        session,
        grant_id=grant.id,
        delivery_on=monday,
        units=2,
        idempotency_key="order-7",
        actor=case_worker,
        order_ref="order-7",
    )
    before = await ledger_snapshot(session)
    again = await service.reserve(
        session,
        grant_id=grant.id,
        delivery_on=monday,
        units=5,
        idempotency_key="order-7",
        actor=case_worker,
    )
    assert again.replayed and again.transfer_id == first.transfer_id and again.units == 2
    assert await ledger_snapshot(session) == before
    assert (
        await service.ensure_week_allotted(
            session, grant_id=grant.id, iso_week=service.iso_week_of(monday)
        )
    ).replayed


async def test_release_redeem_and_their_limits(session, citizen, case_worker, monday):
    grant = await make_grant(session, case_worker, citizen, monday)
    week = service.iso_week_of(monday)
    await service.reserve(
        session,
        grant_id=grant.id,
        delivery_on=monday,
        units=3,
        idempotency_key="r",
        actor=case_worker,
    )
    await service.redeem(
        session, grant_id=grant.id, delivery_on=monday, units=2, idempotency_key="d", actor=None
    )
    await service.release(
        session,
        grant_id=grant.id,
        delivery_on=monday,
        units=1,
        idempotency_key="c",
        actor=case_worker,
    )
    assert await balances(session, grant.id, week) == {
        "available": 5,
        "reserved": 0,
        "redeemed": 2,
        "expired": 0,
    }
    before = await ledger_snapshot(session)
    with pytest.raises(NotEnoughReserved):
        await service.redeem(
            session,
            grant_id=grant.id,
            delivery_on=monday,
            units=1,
            idempotency_key="d2",
            actor=None,
        )
    with pytest.raises(NotEnoughReserved):
        await service.release(
            session,
            grant_id=grant.id,
            delivery_on=monday,
            units=1,
            idempotency_key="c2",
            actor=None,
        )
    assert await ledger_snapshot(session) == before
    assert (await service.verify_ledger(session)).ok


async def test_expire_week_and_rollover(session, citizen, case_worker, monday):
    grant = await make_grant(session, case_worker, citizen, monday)
    week = service.iso_week_of(monday)
    await service.reserve(
        session,
        grant_id=grant.id,
        delivery_on=monday,
        units=2,
        idempotency_key="r",
        actor=case_worker,
    )
    move = await service.expire_week(session, grant_id=grant.id, iso_week=week)
    assert move is not None and move.units == 5 and move.reason == "expire"
    assert (await balances(session, grant.id, week))["expired"] == 5
    assert (await service.expire_week(session, grant_id=grant.id, iso_week=week)).replayed
    # a week nobody touched: allotted, then expired, so nothing stays behind in granted
    second = service.iso_week_of(monday + timedelta(days=7))
    await service.expire_week(session, grant_id=grant.id, iso_week=second)
    assert (await balances(session, grant.id, second))["expired"] == 7
    assert await repository.granted_balance(session, grant.id) == 14
    assert (await service.verify_ledger(session)).ok


async def test_rollover_moves_leftovers_to_next_week(session, world, caps, case_worker, monday):
    from tests.vouchers.conftest import make_citizen

    citizen = await make_citizen(session, case_worker, cpr="020250-4321", name="Poul Holm")
    grant = await make_grant(session, case_worker, citizen, monday, rollover=True)
    week, nxt = service.iso_week_of(monday), service.iso_week_of(monday + timedelta(days=7))
    move = await service.expire_week(session, grant_id=grant.id, iso_week=week)
    assert move.reason == "rollover" and move.units == 7
    await service.ensure_week_allotted(session, grant_id=grant.id, iso_week=nxt)
    assert (await balances(session, grant.id, nxt))["available"] == 14
    assert (await service.verify_ledger(session)).ok


async def test_revoke_releases_reservations_after_the_end(session, citizen, case_worker, monday):
    grant = await make_grant(session, case_worker, citizen, monday, weeks=4)
    week1, week3 = service.iso_week_of(monday), service.iso_week_of(monday + timedelta(days=14))
    for i, day in enumerate([monday, monday + timedelta(days=4), monday + timedelta(days=14)]):
        await service.reserve(
            session,
            grant_id=grant.id,
            delivery_on=day,
            units=1,
            idempotency_key=f"k{i}",
            actor=case_worker,
        )
    # last day is Wednesday of week 1: Friday's reservation and week 3's are released and expire
    await service.revoke_grant(
        session,
        actor=case_worker,
        grant_id=grant.id,
        reason="Moved to a care home",
        ends_on=monday + timedelta(days=2),
    )
    b1, b3 = await balances(session, grant.id, week1), await balances(session, grant.id, week3)
    assert b1["reserved"] == 1  # Monday's meal stays reserved: it is before the end
    assert b1["available"] + b1["reserved"] == 3  # Mon–Wed of a 7-a-week voucher
    assert b3 == {"available": 0, "reserved": 0, "redeemed": 0, "expired": 7}
    assert await repository.granted_balance(session, grant.id) == 0
    assert await repository.balance(session, grant.id, AccountKind.EXPIRED, NO_WEEK) == 14
    assert (await service.verify_ledger(session)).ok
    before = await ledger_snapshot(session)
    with pytest.raises(GrantNotUsable) as caught:
        await service.reserve(
            session,
            grant_id=grant.id,
            delivery_on=monday,
            units=1,
            idempotency_key="late",
            actor=case_worker,
        )
    assert caught.value.status_code == 409 and "revoked" in str(caught.value)
    assert await ledger_snapshot(session) == before


async def test_supersede_splits_the_week_between_old_and_new(session, citizen, case_worker, monday):
    from tests.vouchers.conftest import terms

    old = await make_grant(session, case_worker, citizen, monday, weeks=4)
    await service.reserve(
        session,
        grant_id=old.id,
        delivery_on=monday + timedelta(days=5),
        units=1,
        idempotency_key="sat",
        actor=case_worker,
    )
    new = await service.supersede_grant(
        session,
        actor=case_worker,
        grant_id=old.id,
        terms=terms(monday + timedelta(days=3), weeks=2, units=14, copayment_ore=5000),
    )
    assert old.status == "superseded" and old.valid_to == monday + timedelta(days=2)
    week = service.iso_week_of(monday)
    old_b = await balances(session, old.id, week)
    assert old_b["reserved"] == 0 and old_b["available"] == 3
    await service.ensure_week_allotted(session, grant_id=new.id, iso_week=week)
    assert (await balances(session, new.id, week))["available"] == 8  # 14 × 4/7
    assert (await service.verify_ledger(session)).ok


async def test_outside_validity_and_bad_units_are_4xx_and_change_nothing(
    session, citizen, case_worker, monday
):
    grant = await make_grant(session, case_worker, citizen, monday, weeks=1)
    before = await ledger_snapshot(session)
    with pytest.raises(OutsideValidity) as caught:
        await service.reserve(
            session,
            grant_id=grant.id,
            delivery_on=monday + timedelta(days=7),
            units=1,
            idempotency_key="x",
            actor=case_worker,
        )
    assert caught.value.status_code == 422
    for units in (0, -2):
        with pytest.raises(Exception) as bad:
            await service.reserve(
                session,
                grant_id=grant.id,
                delivery_on=monday,
                units=units,
                idempotency_key=f"u{units}",
                actor=case_worker,
            )
        assert bad.value.status_code == 422
    assert await ledger_snapshot(session) == before


async def test_reserve_by_citizen_finds_the_active_grant(session, citizen, case_worker, monday):
    await make_grant(session, case_worker, citizen, monday, weeks=1)
    move = await service.reserve(
        session,
        citizen_id=citizen.id,
        delivery_on=monday,
        units=1,
        idempotency_key="c1",
        actor=case_worker,
    )
    assert move.units == 1
    with pytest.raises(Exception) as none:
        await service.reserve(
            session,
            citizen_id=citizen.id,
            delivery_on=monday + timedelta(days=8),
            units=1,
            idempotency_key="c2",
            actor=case_worker,
        )
    assert none.value.status_code == 404


async def test_expire_grant_closes_every_week(session, citizen, case_worker, monday):
    grant = await make_grant(session, case_worker, citizen, monday, weeks=2)
    await service.reserve(
        session,
        grant_id=grant.id,
        delivery_on=monday,
        units=1,
        idempotency_key="m",
        actor=case_worker,
    )
    await service.redeem(
        session, grant_id=grant.id, delivery_on=monday, units=1, idempotency_key="md", actor=None
    )
    expired = await service.expire_grant(
        session, grant_id=grant.id, today=monday + timedelta(days=20)
    )
    assert expired.status == "expired"
    assert await repository.granted_balance(session, grant.id) == 0
    report = await service.verify_ledger(session)
    assert report.ok, report.problems


async def test_verify_names_a_tampered_balance(session, citizen, case_worker, monday):
    grant = await make_grant(session, case_worker, citizen, monday)
    await service.reserve(
        session,
        grant_id=grant.id,
        delivery_on=monday,
        units=1,
        idempotency_key="t",
        actor=case_worker,
    )
    assert (await service.verify_ledger(session)).ok
    await session.execute(
        update(VoucherAccount)
        .where(VoucherAccount.grant_id == grant.id, VoucherAccount.kind == AccountKind.RESERVED)
        .values(balance=VoucherAccount.balance + 5)
    )
    report = await service.verify_ledger(session)
    assert not report.ok
    assert any("reserved" in p and "transfers add up to 1" in p for p in report.problems)
    assert any(f"grant {grant.id}" in p and "were issued" in p for p in report.problems)


async def test_reserving_on_an_expired_grant_is_refused_and_changes_nothing(
    session, citizen, case_worker, monday
):
    grant = await make_grant(session, case_worker, citizen, monday, weeks=1)
    await service.expire_grant(session, grant_id=grant.id, today=monday + timedelta(days=8))
    before = await ledger_snapshot(session)
    with pytest.raises(GrantNotUsable) as caught:
        await service.reserve(
            session,
            grant_id=grant.id,
            delivery_on=monday,
            units=1,
            idempotency_key="after-expiry",
            actor=case_worker,
            today=monday,
        )
    assert caught.value.status_code == 409
    assert str(caught.value) == "This voucher is expired and can no longer be used to order."
    assert await ledger_snapshot(session) == before


async def test_rolled_over_units_expire_when_the_grant_ends_before_their_week(
    session, world, caps, case_worker, monday
):
    """Found by the state machine: units rolled into a week after the new end
    must expire with that week's own units."""
    from tests.vouchers.conftest import make_citizen

    citizen = await make_citizen(session, case_worker, cpr="030350-4321", name="Ove Krog")
    grant = await make_grant(session, case_worker, citizen, monday, weeks=3, rollover=True)
    week1, week2 = service.iso_week_of(monday), service.iso_week_of(monday + timedelta(days=7))
    await service.ensure_week_allotted(session, grant_id=grant.id, iso_week=week2)
    assert (
        await service.expire_week(session, grant_id=grant.id, iso_week=week1)
    ).reason == "rollover"
    assert (await balances(session, grant.id, week2))["available"] == 14
    await service.revoke_grant(
        session,
        actor=case_worker,
        grant_id=grant.id,
        reason="Ended",
        ends_on=monday + timedelta(days=3),
    )
    assert (await balances(session, grant.id, week2)) == {
        "available": 0,
        "reserved": 0,
        "redeemed": 0,
        "expired": 14,
    }
    assert (await service.verify_ledger(session)).ok
