"""vouchers: citizens grants ledger 

Revision ID: 0003
Revises: 0002
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import market.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('copayment_cap',
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('cap_ore', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], ),
    sa.PrimaryKeyConstraint('municipality_id', 'year')
    )
    op.create_table('citizen',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('full_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('cpr_encrypted', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('cpr_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('postal_code', sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('diet_form', sa.Enum('normal', 'energy_dense', 'soft', 'minced', 'pureed', 'diabetic', name='dietform', native_enum=False, length=32), nullable=False),
    sa.Column('diet_notes', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('allergies', sa.JSON(), nullable=False),
    sa.Column('contact_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('contact_phone', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('created_at', market.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('municipality_id', 'cpr_hash'),
    sa.UniqueConstraint('user_id')
    )
    op.create_index(op.f('ix_citizen_cpr_hash'), 'citizen', ['cpr_hash'], unique=False)
    op.create_index(op.f('ix_citizen_full_name'), 'citizen', ['full_name'], unique=False)
    op.create_index(op.f('ix_citizen_municipality_id'), 'citizen', ['municipality_id'], unique=False)
    op.create_table('letter_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('citizen_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('code_encrypted', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', market.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', market.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', market.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('replaced_at', market.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizen.id'], ),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code_hash')
    )
    op.create_index(op.f('ix_letter_code_citizen_id'), 'letter_code', ['citizen_id'], unique=False)
    op.create_index(op.f('ix_letter_code_user_id'), 'letter_code', ['user_id'], unique=False)
    op.create_table('proxy_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('citizen_id', sa.Integer(), nullable=False),
    sa.Column('proxy_user_id', sa.Integer(), nullable=False),
    sa.Column('relation', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', market.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', market.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizen.id'], ),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['proxy_user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_proxy_link_citizen_id'), 'proxy_link', ['citizen_id'], unique=False)
    op.create_index(op.f('ix_proxy_link_proxy_user_id'), 'proxy_link', ['proxy_user_id'], unique=False)
    op.create_table('voucher_grant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('citizen_id', sa.Integer(), nullable=False),
    sa.Column('service', sa.Enum('main_meal', name='voucherservice', native_enum=False, length=32), nullable=False),
    sa.Column('units_per_week', sa.Integer(), nullable=False),
    sa.Column('diet_form', sa.Enum('normal', 'energy_dense', 'soft', 'minced', 'pureed', 'diabetic', name='dietform', native_enum=False, length=32), nullable=False),
    sa.Column('allergies', sa.JSON(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=False),
    sa.Column('reassess_on', sa.Date(), nullable=True),
    sa.Column('copayment_ore', sa.Integer(), nullable=False),
    sa.Column('rollover', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Enum('active', 'superseded', 'revoked', 'expired', name='grantstatus', native_enum=False, length=32), nullable=False),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.Column('ended_reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', market.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', market.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('copayment_ore >= 0', name='ck_voucher_grant_copayment_nonnegative'),
    sa.CheckConstraint('units_per_week > 0', name='ck_voucher_grant_units_positive'),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizen.id'], ),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], ),
    sa.ForeignKeyConstraint(['supersedes_id'], ['voucher_grant.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_voucher_grant_citizen_id'), 'voucher_grant', ['citizen_id'], unique=False)
    op.create_index(op.f('ix_voucher_grant_municipality_id'), 'voucher_grant', ['municipality_id'], unique=False)
    op.create_table('voucher_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grant_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('granted', 'available', 'reserved', 'redeemed', 'expired', name='accountkind', native_enum=False, length=32), nullable=False),
    sa.Column('iso_week', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('balance', sa.Integer(), nullable=False),
    sa.CheckConstraint('balance >= 0', name='ck_voucher_account_balance_nonnegative'),
    sa.ForeignKeyConstraint(['grant_id'], ['voucher_grant.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('grant_id', 'kind', 'iso_week')
    )
    op.create_index(op.f('ix_voucher_account_grant_id'), 'voucher_account', ['grant_id'], unique=False)
    op.create_table('ledger_transfer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('grant_id', sa.Integer(), nullable=False),
    sa.Column('from_account_id', sa.Integer(), nullable=True),
    sa.Column('to_account_id', sa.Integer(), nullable=False),
    sa.Column('units', sa.Integer(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('order_ref', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('delivery_on', sa.Date(), nullable=True),
    sa.Column('created_at', market.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('units > 0', name='ck_ledger_transfer_units_positive'),
    sa.ForeignKeyConstraint(['actor_user_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['from_account_id'], ['voucher_account.id'], ),
    sa.ForeignKeyConstraint(['grant_id'], ['voucher_grant.id'], ),
    sa.ForeignKeyConstraint(['to_account_id'], ['voucher_account.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    op.create_index(op.f('ix_ledger_transfer_grant_id'), 'ledger_transfer', ['grant_id'], unique=False)
    op.create_index('ix_ledger_transfer_grant_order', 'ledger_transfer', ['grant_id', 'order_ref'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_ledger_transfer_grant_order', table_name='ledger_transfer')
    op.drop_index(op.f('ix_ledger_transfer_grant_id'), table_name='ledger_transfer')
    op.drop_table('ledger_transfer')
    op.drop_index(op.f('ix_voucher_account_grant_id'), table_name='voucher_account')
    op.drop_table('voucher_account')
    op.drop_index(op.f('ix_voucher_grant_municipality_id'), table_name='voucher_grant')
    op.drop_index(op.f('ix_voucher_grant_citizen_id'), table_name='voucher_grant')
    op.drop_table('voucher_grant')
    op.drop_index(op.f('ix_proxy_link_proxy_user_id'), table_name='proxy_link')
    op.drop_index(op.f('ix_proxy_link_citizen_id'), table_name='proxy_link')
    op.drop_table('proxy_link')
    op.drop_index(op.f('ix_letter_code_user_id'), table_name='letter_code')
    op.drop_index(op.f('ix_letter_code_citizen_id'), table_name='letter_code')
    op.drop_table('letter_code')
    op.drop_index(op.f('ix_citizen_municipality_id'), table_name='citizen')
    op.drop_index(op.f('ix_citizen_full_name'), table_name='citizen')
    op.drop_index(op.f('ix_citizen_cpr_hash'), table_name='citizen')
    op.drop_table('citizen')
    op.drop_table('copayment_cap')
