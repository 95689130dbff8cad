"""the everyday: pauses (hospital stays, holidays), welfare notes and taps from
the driver's page, door notes, the municipality's help line and pause rule

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import market.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "citizen_pause",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column(
            "reason",
            sa.Enum(
                "hospital", "holiday", "family", "other",
                name="pausereason", native_enum=False, length=32,
            ),
            nullable=False,
        ),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("resumes_on", sa.Date(), nullable=True),
        sa.Column("created_by_user_id", sa.Integer(), nullable=False),
        sa.Column("on_behalf_of_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", market.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "resumes_on IS NULL OR resumes_on >= starts_on", name="ck_citizen_pause_dates"
        ),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizen.id"]),
        sa.ForeignKeyConstraint(["created_by_user_id"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["municipality_id"], ["municipality.id"]),
        sa.ForeignKeyConstraint(["on_behalf_of_user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("citizen_pause", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_citizen_pause_citizen_id"), ["citizen_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_citizen_pause_municipality_id"), ["municipality_id"], unique=False
        )

    op.create_table(
        "welfare_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("observations", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "acknowledged", name="alertstatus", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("raised_at", market.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("raised_by_user_id", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("acknowledged_at", market.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by_user_id", sa.Integer(), nullable=True),
        sa.Column("acknowledgement_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["acknowledged_by_user_id"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizen.id"]),
        sa.ForeignKeyConstraint(["municipality_id"], ["municipality.id"]),
        sa.ForeignKeyConstraint(["order_id"], ["service_order.id"]),
        sa.ForeignKeyConstraint(["raised_by_user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("welfare_note", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_welfare_note_citizen_id"), ["citizen_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_welfare_note_municipality_id"), ["municipality_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_welfare_note_status"), ["status"], unique=False)

    op.create_table(
        "driver_tap",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", market.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["service_order.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("driver_tap", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_driver_tap_order_id"), ["order_id"], unique=False)

    with op.batch_alter_table("service_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pause_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_service_order_pause_id_citizen_pause", "citizen_pause", ["pause_id"], ["id"]
        )
    with op.batch_alter_table("municipality", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "pause_inside_cutoff_free", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    with op.batch_alter_table("citizen", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "door_notes",
                sqlmodel.sql.sqltypes.AutoString(length=500),
                nullable=False,
                server_default="",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("citizen", schema=None) as batch_op:
        batch_op.drop_column("door_notes")
    with op.batch_alter_table("municipality", schema=None) as batch_op:
        batch_op.drop_column("pause_inside_cutoff_free")
    with op.batch_alter_table("service_order", schema=None) as batch_op:
        batch_op.drop_constraint("fk_service_order_pause_id_citizen_pause", type_="foreignkey")
        batch_op.drop_column("pause_id")
    with op.batch_alter_table("driver_tap", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_driver_tap_order_id"))
    op.drop_table("driver_tap")
    with op.batch_alter_table("welfare_note", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_welfare_note_status"))
        batch_op.drop_index(batch_op.f("ix_welfare_note_municipality_id"))
        batch_op.drop_index(batch_op.f("ix_welfare_note_citizen_id"))
    op.drop_table("welfare_note")
    with op.batch_alter_table("citizen_pause", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_citizen_pause_municipality_id"))
        batch_op.drop_index(batch_op.f("ix_citizen_pause_citizen_id"))
    op.drop_table("citizen_pause")
