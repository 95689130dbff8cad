"""Signing in with a municipality's own identity provider (OpenID Connect): one
configuration per municipality for its staff and one for its citizens (MitID
through a broker), the subjects bound to staff accounts, the single-use links
that bind them, the short-lived state of a sign-in in progress, and the
provider session behind a local session (for RP-initiated logout)."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from market.db import UTCDateTime, enum_type, utcnow


class Audience(StrEnum):
    STAFF = "staff"
    CITIZEN = "citizen"


class IdentityProvider(SQLModel, table=True):
    __tablename__ = "identity_provider"
    __table_args__ = (UniqueConstraint("municipality_id", "audience"),)

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    audience: Audience = Field(sa_type=enum_type(Audience))
    issuer: str = Field(max_length=500)
    client_id: str = Field(max_length=255)
    # Encrypted with the secret key; never shown again once saved.
    client_secret_encrypted: str = Field(max_length=1024)
    scopes: str = Field(default="openid", max_length=500)
    # Staff: the stable subject claim (sub, oid). Citizens: the broker's CPR claim.
    person_claim: str = Field(default="sub", max_length=200)
    # Space-separated acr values and amr values that count as a second factor.
    mfa_acr_values: str = Field(default="", max_length=500)
    mfa_amr_values: str = Field(default="", max_length=500)
    # Staff only: whether the municipality's staff may still sign in with a password.
    staff_passwords_allowed: bool = True
    enabled: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class IdentityBinding(SQLModel, table=True):
    """A staff account's stable subject at its municipality's identity provider."""

    __tablename__ = "identity_binding"
    __table_args__ = (
        UniqueConstraint("identity_provider_id", "subject"),
        UniqueConstraint("identity_provider_id", "user_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    identity_provider_id: int = Field(foreign_key="identity_provider.id", index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    subject: str = Field(max_length=255)
    created_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class BindingLink(SQLModel, table=True):
    """A single-use, expiring link a municipal admin gives a colleague: the first
    sign-in through it binds the colleague's subject to their account. Only the
    token's hash is stored."""

    __tablename__ = "binding_link"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LoginState(SQLModel, table=True):
    """A sign-in in progress: the state is single-use and expires; it is also tied
    to the browser that started it (a cookie whose hash is kept here)."""

    __tablename__ = "oidc_login_state"

    id: int | None = Field(default=None, primary_key=True)
    state_hash: str = Field(max_length=64, unique=True)
    browser_hash: str = Field(max_length=64)
    identity_provider_id: int = Field(foreign_key="identity_provider.id", index=True)
    nonce: str = Field(max_length=128)
    code_verifier_encrypted: str = Field(max_length=512)
    # Set when this sign-in binds a subject to an account (binding link or invitation).
    bind_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    binding_link_id: int | None = Field(default=None, foreign_key="binding_link.id")
    next_path: str = Field(default="/", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ProviderSession(SQLModel, table=True):
    """The identity provider's ID token behind a local session, kept (encrypted: a
    citizen's holds the CPR claim) only as the id_token_hint for signing out there."""

    __tablename__ = "oidc_session"

    id: int | None = Field(default=None, primary_key=True)
    user_session_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("user_session.id", ondelete="CASCADE"), unique=True, nullable=False
        )
    )
    identity_provider_id: int = Field(foreign_key="identity_provider.id", index=True)
    id_token_encrypted: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
