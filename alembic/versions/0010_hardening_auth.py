"""hardening auth: second-factor attempts and replay, throttles for unknown
e-mails and letter codes, API token scopes and expiry

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import market.db
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(
            sa.Column(
                "failed_second_factor_count", sa.Integer(), nullable=False, server_default="0"
            )
        )
        batch.add_column(
            sa.Column(
                "second_factor_locked_until", market.db.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(
            sa.Column(
                "scopes",
                sqlmodel.sql.sqltypes.AutoString(length=200),
                nullable=False,
                server_default="",
            )
        )
        batch.add_column(
            sa.Column("expires_at", market.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "auth_throttle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", market.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", market.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("auth_throttle")
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("expires_at")
        batch.drop_column("scopes")
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("totp_last_step")
        batch.drop_column("second_factor_locked_until")
        batch.drop_column("failed_second_factor_count")
