"""An e-invoice or credit note as first issued. Its bytes are stored with
their SHA-256, so a later change to the provider's name, address or account,
or to the municipality's settings, does not change a document already
issued: every later fetch returns these bytes."""

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from market.db import UTCDateTime, utcnow


class IssuedDocument(SQLModel, table=True):
    __tablename__ = "finance_document"

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    number: str = Field(max_length=40, unique=True)
    kind: str = Field(max_length=20)  # "invoice" or "credit_note"
    statement_id: int = Field(foreign_key="settlement_statement.id", index=True)
    adjustment_id: int | None = Field(default=None, foreign_key="settlement_adjustment.id")
    payable_ore: int
    sha256: str = Field(max_length=64)
    content: str = Field(sa_type=Text)
    issued_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
