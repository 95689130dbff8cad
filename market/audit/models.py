from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from market.db import UTCDateTime

GENESIS_HASH = "0" * 64
PLATFORM_CHAIN = "platform"
# 0: plain SHA-256 (before 0015; anyone with write access could recompute it);
# 1: HMAC-SHA256 with a key kept outside the database.
UNKEYED_HASH = 0
KEYED_HASH = 1


class AuditEvent(SQLModel, table=True):
    """Append-only. Each event's hash covers its content and the previous hash,
    so editing or deleting a row breaks the chain at that row."""

    __tablename__ = "audit_event"
    __table_args__ = (UniqueConstraint("chain", "seq", name="uq_audit_event_chain_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    chain: str = Field(max_length=32, description="'municipality:<id>' or 'platform'")
    seq: int
    municipality_id: int | None = Field(default=None, foreign_key="municipality.id", index=True)
    actor_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    on_behalf_of_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    action: str = Field(max_length=80, index=True)
    entity_type: str = Field(max_length=40)
    entity_id: str = Field(max_length=40)
    # Canonical JSON text, not a JSON column: jsonb would reorder keys and break hashes.
    data_json: str = Field(sa_type=Text)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    hash_version: int = Field(default=KEYED_HASH, sa_column_kwargs={"server_default": "0"})
    key_id: str | None = Field(default=None, max_length=16)


class AuditChainHead(SQLModel, table=True):
    """The last sequence number and hash of each chain. Advancing it is one
    conditional UPDATE, which serialises appends per chain on every database."""

    __tablename__ = "audit_chain_head"

    chain: str = Field(max_length=32, primary_key=True)
    seq: int = 0
    hash: str = Field(default=GENESIS_HASH, max_length=64)
