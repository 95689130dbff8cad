"""The weekly job remembers how far each grant's weeks are closed, so a round
looks only at weeks that can still be open (not every week ever granted)."""

from datetime import timedelta

from tests.vouchers.conftest import make_citizen, make_grant, next_monday
from vouchers import service as vouchers


async def test_weeks_are_closed_once_and_then_not_scanned_again(session, world, caps, case_worker):
    citizen = await make_citizen(session, case_worker)
    start = next_monday() - timedelta(days=28)
    await make_grant(session, case_worker, citizen, start, weeks=8)
    today = start + timedelta(days=16)  # a Wednesday in the grant's third week

    assert await vouchers.grants_with_weeks_to_close(session, today=today) != []
    assert await vouchers.close_past_weeks(session, today=today) == 2
    # Both ended weeks are remembered: the grant is not looked at again this week ...
    assert await vouchers.grants_with_weeks_to_close(session, today=today) == []
    assert await vouchers.close_past_weeks(session, today=today) == 0
    # ... and next week only the one week that ended since is closed.
    later = today + timedelta(days=7)
    assert len(await vouchers.grants_with_weeks_to_close(session, today=later)) == 1
    assert await vouchers.close_past_weeks(session, today=later) == 1
    report = await vouchers.verify_ledger(session)
    assert report.ok, report.problems
