"""co-production: community partners (associations), their coordinators and
volunteers, activities (meal companions, shared meals), companion requests,
planned visits and seats at shared meals

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import market.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "community_partner",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("contact_email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("contact_phone", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("pledges", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "applied",
                "approved",
                "suspended",
                "rejected",
                name="partnerstatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("registered_at", market.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", market.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by_user_id", sa.Integer(), nullable=True),
        sa.Column("decision_note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by_user_id"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("community_partner", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_community_partner_municipality_id"), ["municipality_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_community_partner_status"), ["status"], unique=False)

    op.create_table(
        "community_activity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("companion", "shared_meal", name="activitykind", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("place", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("postal_code", sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=True),
        sa.Column("starts_at", sa.Time(), nullable=True),
        sa.Column("weekdays", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("seats_taken", sa.Integer(), nullable=False),
        sa.Column("transport", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", market.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("seats_taken >= 0 AND seats_taken <= seats", name="ck_activity_seats"),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["community_partner.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("community_activity", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_community_activity_held_on"), ["held_on"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_community_activity_municipality_id"), ["municipality_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_community_activity_partner_id"), ["partner_id"], unique=False
        )

    op.create_table(
        "community_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum("coordinator", "volunteer", name="memberrole", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("first_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("added_at", market.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("removed_at", market.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["community_partner.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id"),
    )
    with op.batch_alter_table("community_member", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_community_member_partner_id"), ["partner_id"], unique=False
        )

    op.create_table(
        "companion_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("postal_code", sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False),
        sa.Column("weekdays", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("wishes", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "asked",
                "proposed",
                "matched",
                "declined",
                "ended",
                name="requeststatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("volunteer_member_id", sa.Integer(), nullable=True),
        sa.Column("asked_by_user_id", sa.Integer(), nullable=False),
        sa.Column("asked_at", market.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("proposed_at", market.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("matched_at", market.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", market.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("observations_consented", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["community_activity.id"],
        ),
        sa.ForeignKeyConstraint(
            ["asked_by_user_id"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizen.id"],
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["community_partner.id"],
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_member_id"],
            ["community_member.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("companion_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_companion_request_citizen_id"), ["citizen_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_companion_request_municipality_id"), ["municipality_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_companion_request_partner_id"), ["partner_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_companion_request_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_companion_request_volunteer_member_id"),
            ["volunteer_member_id"],
            unique=False,
        )

    op.create_table(
        "seat_booking",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("postal_code", sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "booked", "cancelled", "attended", name="seatstatus", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("booked_by_user_id", sa.Integer(), nullable=False),
        sa.Column("booked_at", market.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", market.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "skipped_order_ids", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["community_activity.id"],
        ),
        sa.ForeignKeyConstraint(
            ["booked_by_user_id"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizen.id"],
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("seat_booking", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_seat_booking_activity_id"), ["activity_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_seat_booking_citizen_id"), ["citizen_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_seat_booking_municipality_id"), ["municipality_id"], unique=False
        )

    op.create_table(
        "community_visit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("visit_on", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "planned", "held", "cancelled", name="visitstatus", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("held_at", market.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("welfare_note_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["companion_request.id"],
        ),
        sa.ForeignKeyConstraint(
            ["welfare_note_id"],
            ["welfare_note.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "visit_on", name="uq_visit_request_day"),
    )
    with op.batch_alter_table("community_visit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_community_visit_request_id"), ["request_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_community_visit_visit_on"), ["visit_on"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("community_visit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_community_visit_visit_on"))
        batch_op.drop_index(batch_op.f("ix_community_visit_request_id"))

    op.drop_table("community_visit")
    with op.batch_alter_table("seat_booking", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seat_booking_municipality_id"))
        batch_op.drop_index(batch_op.f("ix_seat_booking_citizen_id"))
        batch_op.drop_index(batch_op.f("ix_seat_booking_activity_id"))

    op.drop_table("seat_booking")
    with op.batch_alter_table("companion_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_companion_request_volunteer_member_id"))
        batch_op.drop_index(batch_op.f("ix_companion_request_status"))
        batch_op.drop_index(batch_op.f("ix_companion_request_partner_id"))
        batch_op.drop_index(batch_op.f("ix_companion_request_municipality_id"))
        batch_op.drop_index(batch_op.f("ix_companion_request_citizen_id"))

    op.drop_table("companion_request")
    with op.batch_alter_table("community_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_community_member_partner_id"))

    op.drop_table("community_member")
    with op.batch_alter_table("community_activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_community_activity_partner_id"))
        batch_op.drop_index(batch_op.f("ix_community_activity_municipality_id"))
        batch_op.drop_index(batch_op.f("ix_community_activity_held_on"))

    op.drop_table("community_activity")
    with op.batch_alter_table("community_partner", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_community_partner_status"))
        batch_op.drop_index(batch_op.f("ix_community_partner_municipality_id"))

    op.drop_table("community_partner")
