"""Money above 32 bits: a month worth more than 21,474,836.47 kr is settled,
approved and carries an adjustment as large, on SQLite and on PostgreSQL."""

from sqlalchemy import BigInteger, inspect, select

from market.models_registry import import_all_models
from market.settlement import service
from market.settlement.models import Adjustment, SettlementRun, Statement, StatementStatus
from tests.market.settlement.conftest import EARLIER, PREVIOUS, insert_month, set_terms

INT32_MAX = 2**31 - 1
# 300 meals at 10,000,000.00 kr: 3,000,000,000.00 kr, far above what 32 bits hold.
UNIT_PRICE_ORE = 1_000_000_000
ORDERS = 300


async def test_a_month_above_the_32_bit_limit_is_settled_and_approved(session, contract):
    await set_terms(session, contract, unit_price_ore=UNIT_PRICE_ORE)
    await insert_month(session, contract, EARLIER, on_time=ORDERS)
    expected = ORDERS * UNIT_PRICE_ORE
    assert expected > INT32_MAX

    run = await service.run_month(session, actor=contract.admin, month_on=EARLIER)
    await session.commit()
    assert run.total_ore == expected
    statement = (
        await session.execute(select(Statement).where(Statement.month_on == EARLIER))
    ).scalar_one()
    assert statement.total_ore == expected
    approved = await service.approve_statement(
        session, actor=contract.admin2, statement_id=statement.id
    )
    assert approved.status == StatementStatus.APPROVED and approved.total_ore == expected

    # A correction as large is carried into the next month.
    await service.add_adjustment(
        session,
        actor=contract.admin,
        statement_id=statement.id,
        amount_ore=-expected,
        reason="Fejlagtig pris",
    )
    await insert_month(session, contract, PREVIOUS, on_time=ORDERS)
    next_run = await service.run_month(session, actor=contract.admin, month_on=PREVIOUS)
    await session.commit()
    assert next_run.total_ore == 0
    stored = (await session.execute(select(Adjustment.amount_ore))).scalar_one()
    assert stored == -expected
    assert (await session.get(SettlementRun, run.id)).total_ore == expected


async def test_every_summing_ore_column_is_64_bit(engine):
    """The database as migrated (not the models): every øre column of the
    tables whose amounts are sums holds more than 32 bits."""
    import_all_models()
    tables = {
        "settlement_run": {"total_ore"},
        "settlement_statement": {"total_ore"},
        "settlement_statement_line": {"amount_ore"},
        "settlement_adjustment": {"amount_ore"},
        "settlement_payout": {"amount_ore"},
        "settlement_payment_file": {"total_ore"},
        "copayment_statement": {"total_ore"},
        "copayment_statement_line": {"amount_ore"},
    }

    def columns(sync_connection):
        inspector = inspect(sync_connection)
        return {
            table: {c["name"]: c["type"] for c in inspector.get_columns(table)} for table in tables
        }

    async with engine.connect() as connection:
        found = await connection.run_sync(columns)
    narrow = [
        f"{table}.{name}"
        for table, names in tables.items()
        for name in names
        if not isinstance(found[table][name], BigInteger)
    ]
    assert narrow == []
