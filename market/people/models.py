from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from market.db import UTCDateTime, enum_type, utcnow


class TokenPurpose(StrEnum):
    INVITATION = "invitation"
    PASSWORD_RESET = "password_reset"


class UserToken(SQLModel, table=True):
    """A single-use link sent by e-mail. Only the token's hash is stored, so a
    copy of the database cannot be used to take over an account."""

    __tablename__ = "user_token"

    id: int | None = Field(default=None, primary_key=True)
    purpose: TokenPurpose = Field(sa_type=enum_type(TokenPurpose))
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    created_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
