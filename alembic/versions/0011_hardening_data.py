"""hardening of data: 64-bit øre for every amount that sums (settlement runs,
statements, lines, adjustments, payouts, payment files, co-payment statements
and their lines)

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A month of a large municipality passes 21,474,836.47 kr, the most a 32-bit
# integer holds in øre.
SUMMING_ORE_COLUMNS = {
    "settlement_run": ("total_ore",),
    "settlement_statement": ("total_ore",),
    "settlement_statement_line": ("amount_ore",),
    "settlement_adjustment": ("amount_ore",),
    "settlement_payout": ("amount_ore",),
    "settlement_payment_file": ("total_ore",),
    "copayment_statement": ("total_ore",),
    "copayment_statement_line": ("amount_ore",),
}


def _retype(old: sa.types.TypeEngine, new: sa.types.TypeEngine) -> None:
    for table, columns in SUMMING_ORE_COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(column, existing_type=old, type_=new, existing_nullable=False)


def upgrade() -> None:
    _retype(sa.Integer(), sa.BigInteger())


def downgrade() -> None:
    # Fails on PostgreSQL if any amount no longer fits 32 bits, rather than
    # silently truncating money.
    _retype(sa.BigInteger(), sa.Integer())
