"""How many statements one order placement sends to the database: a ceiling on
the count (not a timing), so the order path cannot quietly grow round trips
again. The listing of the statements is printed when the ceiling is passed."""

from market.orders import service
from tests.market.orders.conftest import days_ahead, noon_before
from tests.statements import Statements, counting_statements

# The most statements a placement may send (SAVEPOINTs included), per backend.
# Measured before the order path was trimmed: SQLite 42 / 30, PostgreSQL 43 / 31
# (PostgreSQL adds the idempotency key's advisory lock; it writes the order with
# its events, and the audit event with the chain head's hash, in one statement
# each, where SQLite, without data-modifying CTEs, takes two).
# The first order of a week also allots the week: one more ledger transfer
# with its savepoints, and creates the week's accounts.
FIRST_OF_WEEK_CEILING = {"sqlite": 28, "postgresql": 27}
LATER_CEILING = {"sqlite": 19, "postgresql": 18}


async def _place(session, kitchen, diner, day, key):
    return await service.place_order(
        session,
        actor=diner.me,
        citizen_id=None,
        offer_id=kitchen.offer.id,
        delivery_on=day,
        idempotency_key=key,
        now=noon_before(day),
    )


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
    first_day, day = days_ahead(3), days_ahead(4)
    if first_day.isocalendar()[:2] != day.isocalendar()[:2]:
        first_day, day = days_ahead(4), days_ahead(5)
    assert first_day.isocalendar()[:2] == day.isocalendar()[:2]
    await _place(session, kitchen, diner, first_day, "earlier")
    session.expunge_all()
    with counting_statements(engine) as statements:
        order = await _place(session, kitchen, diner, day, "later")
    assert order.id is not None
    _within(statements, LATER_CEILING[engine.dialect.name])
