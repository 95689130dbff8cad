"""How many statements one order placement sends to the database: a ceiling on
the count (not a timing), so the order path cannot quietly grow round trips
again. The listing of the statements is printed when the ceiling is passed."""

from market.orders import service
from tests.market.orders.conftest import days_ahead, noon_before
from tests.statements import Statements, counting_statements

# The most statements a placement may send (SAVEPOINTs included), per backend.
# Measured before the order path was trimmed: SQLite 42 / 30, PostgreSQL 43 / 31;
# after the first trim 28 / 19 and 27 / 18. Now a later order of a week sends
# (SQLite 10, PostgreSQL 8):
#   [PostgreSQL only] the order key's advisory lock; then one read of the
#   citizen, the active grant (FOR UPDATE on PostgreSQL, so the ledger does not
#   read it again), whether paused that day, the payment method, the order
#   already under the key and the ledger's look-ups (replay, week allotted,
#   account ids); the offering (providers' one read); the capacity upsert; the
#   reservation (PostgreSQL one statement: debit, credit and transfer row as
#   data-modifying CTEs; SQLite an UPDATE of both accounts and the row, no
#   SAVEPOINT: a refused debit writes nothing); the order with its events
#   (PostgreSQL one statement, SQLite two); the audit chain's head, then the
#   event with the head moved on (SQLite three).
# What limits the rest: the audit event's HMAC is computed in Python between
# reading the head and writing the event (two statements at least; one would
# need the HMAC in SQL); SQLite has no data-modifying CTEs; the offering is
# providers' own read. The first order of a week also creates the week's
# accounts and allots the week (PostgreSQL 1 + 1 statements, SQLite 1 + 2), and
# here the test's transaction starts with it (the SAVEPOINT the test session
# opens, where a request's session sends BEGIN).
FIRST_OF_WEEK_CEILING = {"sqlite": 14, "postgresql": 11}
LATER_CEILING = {"sqlite": 10, "postgresql": 8}


async def _place(session, kitchen, diner, day, key, *, once=False):
    """place_order, or with ``once`` place_order_once (POST /api/v1/orders and
    the order form), which also says whether it placed the order."""
    place = service.place_order_once if once else service.place_order
    return await place(
        session,
        actor=diner.me,
        citizen_id=None,
        offer_id=kitchen.offer.id,
        delivery_on=day,
        idempotency_key=key,
        now=noon_before(day),
    )


def _two_days_of_one_week():
    first_day, day = days_ahead(3), days_ahead(4)
    if first_day.isocalendar()[:2] != day.isocalendar()[:2]:
        first_day, day = days_ahead(4), days_ahead(5)
    assert first_day.isocalendar()[:2] == day.isocalendar()[:2]
    return first_day, day


def _within(statements: Statements, ceiling: int) -> None:
    print(f"{statements.count} statements:\n{statements.listing()}")
    assert statements.count <= ceiling, (
        f"{statements.count} statements, more than {ceiling}:\n{statements.listing()}"
    )


async def test_the_first_order_of_a_week_stays_within_its_statement_count(
    session, engine, kitchen, diner
):
    day = days_ahead(3)
    session.expunge_all()  # as a request's own session: nothing loaded yet
    with counting_statements(engine) as statements:
        order = await _place(session, kitchen, diner, day, "first")
    assert order.id is not None
    _within(statements, FIRST_OF_WEEK_CEILING[engine.dialect.name])


async def test_a_later_order_stays_within_its_statement_count(session, engine, kitchen, diner):
    first_day, day = _two_days_of_one_week()
    await _place(session, kitchen, diner, first_day, "earlier")
    session.expunge_all()
    with counting_statements(engine) as statements:
        order = await _place(session, kitchen, diner, day, "later")
    assert order.id is not None
    _within(statements, LATER_CEILING[engine.dialect.name])


async def test_the_api_path_sends_no_more_than_place_order(session, engine, kitchen, diner):
    """place_order_once (POST /api/v1/orders and the order form) also says whether
    it placed the order: from the same one look-up, not a second lock and read."""
    first_day, day = _two_days_of_one_week()
    await _place(session, kitchen, diner, first_day, "earlier", once=True)
    session.expunge_all()
    with counting_statements(engine) as statements:
        order, placed = await _place(session, kitchen, diner, day, "later", once=True)
    assert placed and order.id is not None
    _within(statements, LATER_CEILING[engine.dialect.name])


async def test_a_replayed_key_reads_and_writes_nothing(session, engine, kitchen, diner):
    day = days_ahead(3)
    first, placed = await _place(session, kitchen, diner, day, "twice", once=True)
    assert placed
    session.expunge_all()
    with counting_statements(engine) as statements:
        again, placed = await _place(session, kitchen, diner, day, "twice", once=True)
    assert not placed and again.id == first.id
    writes = [
        sql
        for sql in statements.executed
        if sql.lstrip().split()[0].upper() in {"INSERT", "UPDATE", "DELETE", "WITH"}
    ]
    assert writes == [], statements.listing()
    # The lock (PostgreSQL), the one read, and the order under the key.
    _within(statements, {"sqlite": 2, "postgresql": 3}[engine.dialect.name])
