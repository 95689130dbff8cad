"""finance: issued e-invoices and credit notes; the municipality's Peppol endpoint (GLN), buyer reference and pain.001 version; VAT category, rate and exemption reason per contract terms version

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import market.db
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "finance_document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("adjustment_id", sa.Integer(), nullable=True),
        sa.Column("payable_ore", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("issued_at", market.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["adjustment_id"], ["settlement_adjustment.id"]),
        sa.ForeignKeyConstraint(["municipality_id"], ["municipality.id"]),
        sa.ForeignKeyConstraint(["statement_id"], ["settlement_statement.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    with op.batch_alter_table("finance_document", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_finance_document_municipality_id"), ["municipality_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_finance_document_statement_id"), ["statement_id"], unique=False
        )
    with op.batch_alter_table("municipality", schema=None) as batch_op:
        batch_op.add_column(sa.Column("peppol_gln", sa.String(length=13), nullable=True))
        batch_op.add_column(
            sa.Column("invoice_buyer_reference", sa.String(length=100), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "pain001_version",
                sa.String(length=20),
                nullable=False,
                server_default="pain.001.001.03",
            )
        )
    with op.batch_alter_table("contract_terms", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("vat_category", sa.String(length=2), nullable=False, server_default="E")
        )
        batch_op.add_column(
            sa.Column("vat_rate_bp", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("vat_exemption_reason", sa.Text(), nullable=False, server_default="")
        )
        batch_op.create_check_constraint(
            "ck_contract_terms_vat_rate_bp", "vat_rate_bp BETWEEN 0 AND 10000"
        )


def downgrade() -> None:
    with op.batch_alter_table("contract_terms", schema=None) as batch_op:
        batch_op.drop_constraint("ck_contract_terms_vat_rate_bp", type_="check")
        batch_op.drop_column("vat_exemption_reason")
        batch_op.drop_column("vat_rate_bp")
        batch_op.drop_column("vat_category")
    with op.batch_alter_table("municipality", schema=None) as batch_op:
        batch_op.drop_column("pain001_version")
        batch_op.drop_column("invoice_buyer_reference")
        batch_op.drop_column("peppol_gln")
    with op.batch_alter_table("finance_document", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_finance_document_statement_id"))
        batch_op.drop_index(batch_op.f("ix_finance_document_municipality_id"))
    op.drop_table("finance_document")
