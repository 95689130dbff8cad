"""providers: quality standards, applications with evidence, reviews, approvals
and their contract terms

Revision ID: 0002
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import market.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('quality_standard',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('service', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('status', sa.Enum('draft', 'published', 'superseded', name='standardstatus', native_enum=False, length=32), nullable=False),
    sa.Column('created_at', market.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_at', market.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reapply_by', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('municipality_id', 'service', 'version', name='uq_quality_standard_version')
    )
    op.create_index(op.f('ix_quality_standard_municipality_id'), 'quality_standard', ['municipality_id'], unique=False)
    op.create_table('provider_application',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('standard_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'submitted', 'approved', 'rejected', 'withdrawn', name='applicationstatus', native_enum=False, length=32), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', market.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', market.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_at', market.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by_user_id', sa.Integer(), nullable=True),
    sa.Column('rejection_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], ),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], ),
    sa.ForeignKeyConstraint(['standard_id'], ['quality_standard.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_provider_application_municipality_id'), 'provider_application', ['municipality_id'], unique=False)
    op.create_index(op.f('ix_provider_application_provider_id'), 'provider_application', ['provider_id'], unique=False)
    op.create_table('standard_requirement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('standard_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('kind', sa.Enum('attestation', 'document', 'numeric_threshold', name='requirementkind', native_enum=False, length=32), nullable=False),
    sa.Column('mandatory', sa.Boolean(), nullable=False),
    sa.Column('unit', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('min_value', sa.String(length=40), nullable=True),
    sa.Column('max_value', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['standard_id'], ['quality_standard.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('standard_id', 'key', name='uq_standard_requirement_key')
    )
    op.create_index(op.f('ix_standard_requirement_standard_id'), 'standard_requirement', ['standard_id'], unique=False)
    op.create_table('application_evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('requirement_id', sa.Integer(), nullable=False),
    sa.Column('attested', sa.Boolean(), nullable=False),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('numeric_value', sa.String(length=40), nullable=True),
    sa.Column('updated_at', market.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['provider_application.id'], ),
    sa.ForeignKeyConstraint(['requirement_id'], ['standard_requirement.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('application_id', 'requirement_id', name='uq_application_evidence')
    )
    op.create_index(op.f('ix_application_evidence_application_id'), 'application_evidence', ['application_id'], unique=False)
    op.create_table('approval',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('service', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('standard_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('active', 'suspended', 'revoked', 'replaced', name='approvalstatus', native_enum=False, length=32), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=False),
    sa.Column('daily_capacity', sa.Integer(), nullable=False),
    sa.Column('reapply_by', sa.Date(), nullable=True),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('approved_by_user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', market.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status_changed_at', market.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['provider_application.id'], ),
    sa.ForeignKeyConstraint(['approved_by_user_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], ),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], ),
    sa.ForeignKeyConstraint(['standard_id'], ['quality_standard.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('application_id')
    )
    op.create_index(op.f('ix_approval_municipality_id'), 'approval', ['municipality_id'], unique=False)
    op.create_index(op.f('ix_approval_provider_id'), 'approval', ['provider_id'], unique=False)
    op.create_index('uq_approval_standing', 'approval', ['provider_id', 'municipality_id', 'service'], unique=True, sqlite_where=sa.text("status IN ('active', 'suspended')"), postgresql_where=sa.text("status IN ('active', 'suspended')"))
    op.create_table('evidence_upload',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('requirement_id', sa.Integer(), nullable=False),
    sa.Column('original_filename', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('content_type', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('storage_name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('uploaded_by_user_id', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', market.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['provider_application.id'], ),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], ),
    sa.ForeignKeyConstraint(['requirement_id'], ['standard_requirement.id'], ),
    sa.ForeignKeyConstraint(['uploaded_by_user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('storage_name')
    )
    op.create_index(op.f('ix_evidence_upload_application_id'), 'evidence_upload', ['application_id'], unique=False)
    op.create_index(op.f('ix_evidence_upload_provider_id'), 'evidence_upload', ['provider_id'], unique=False)
    op.create_table('requirement_review',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('requirement_id', sa.Integer(), nullable=False),
    sa.Column('met', sa.Boolean(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('decided_by_user_id', sa.Integer(), nullable=False),
    sa.Column('decided_at', market.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['provider_application.id'], ),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['requirement_id'], ['standard_requirement.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('application_id', 'requirement_id', name='uq_requirement_review')
    )
    op.create_index(op.f('ix_requirement_review_application_id'), 'requirement_review', ['application_id'], unique=False)
    op.create_table('approval_postal_code',
    sa.Column('approval_id', sa.Integer(), nullable=False),
    sa.Column('postal_code', sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False),
    sa.ForeignKeyConstraint(['approval_id'], ['approval.id'], ),
    sa.PrimaryKeyConstraint('approval_id', 'postal_code')
    )
    op.create_index(op.f('ix_approval_postal_code_postal_code'), 'approval_postal_code', ['postal_code'], unique=False)
    op.create_table('contract_terms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('approval_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('unit_price_ore', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', market.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['approval_id'], ['approval.id'], ),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('approval_id', 'version', name='uq_contract_terms_version')
    )
    op.create_index(op.f('ix_contract_terms_approval_id'), 'contract_terms', ['approval_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_contract_terms_approval_id'), table_name='contract_terms')
    op.drop_table('contract_terms')
    op.drop_index(op.f('ix_approval_postal_code_postal_code'), table_name='approval_postal_code')
    op.drop_table('approval_postal_code')
    op.drop_index(op.f('ix_requirement_review_application_id'), table_name='requirement_review')
    op.drop_table('requirement_review')
    op.drop_index(op.f('ix_evidence_upload_provider_id'), table_name='evidence_upload')
    op.drop_index(op.f('ix_evidence_upload_application_id'), table_name='evidence_upload')
    op.drop_table('evidence_upload')
    op.drop_index('uq_approval_standing', table_name='approval', sqlite_where=sa.text("status IN ('active', 'suspended')"), postgresql_where=sa.text("status IN ('active', 'suspended')"))
    op.drop_index(op.f('ix_approval_provider_id'), table_name='approval')
    op.drop_index(op.f('ix_approval_municipality_id'), table_name='approval')
    op.drop_table('approval')
    op.drop_index(op.f('ix_application_evidence_application_id'), table_name='application_evidence')
    op.drop_table('application_evidence')
    op.drop_index(op.f('ix_standard_requirement_standard_id'), table_name='standard_requirement')
    op.drop_table('standard_requirement')
    op.drop_index(op.f('ix_provider_application_provider_id'), table_name='provider_application')
    op.drop_index(op.f('ix_provider_application_municipality_id'), table_name='provider_application')
    op.drop_table('provider_application')
    op.drop_index(op.f('ix_quality_standard_municipality_id'), table_name='quality_standard')
    op.drop_table('quality_standard')
