from datetime import datetime
from enum import StrEnum

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from market.db import UTCDateTime, enum_type, utcnow


class OutboxKind(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    GAVE_UP = "gave_up"


class OutboxMessage(SQLModel, table=True):
    """An effect outside the database, written in the same transaction as the
    change that caused it and delivered after commit by `market tick`."""

    __tablename__ = "outbox_message"

    id: int | None = Field(default=None, primary_key=True)
    kind: OutboxKind = Field(sa_type=enum_type(OutboxKind))
    idempotency_key: str = Field(max_length=200, unique=True)
    payload_json: str = Field(sa_type=Text)
    status: OutboxStatus = Field(
        default=OutboxStatus.PENDING, sa_type=enum_type(OutboxStatus), index=True
    )
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Whose message it is, so a municipal admin can see and retry its own dead letters.
    municipality_id: int | None = Field(default=None, index=True)
