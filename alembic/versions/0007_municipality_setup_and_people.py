"""municipality contact details; single-use invitation and password-reset tokens

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import market.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("municipality", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("contact_phone", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True)
        )
        batch_op.add_column(
            sa.Column("opening_hours", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
    op.create_table(
        "user_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(
                "invitation", "password_reset", name="tokenpurpose", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", market.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", market.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", market.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["created_by_user_id"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("user_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_token_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("user_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_token_user_id"))
    op.drop_table("user_token")
    with op.batch_alter_table("municipality", schema=None) as batch_op:
        batch_op.drop_column("opening_hours")
        batch_op.drop_column("contact_phone")
