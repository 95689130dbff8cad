from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from market.db import UTCDateTime, enum_type, utcnow


class Role(StrEnum):
    CITIZEN = "citizen"
    PROXY = "proxy"
    CASE_WORKER = "case_worker"
    MUNICIPAL_ADMIN = "municipal_admin"
    AUDITOR = "auditor"
    PROVIDER_STAFF = "provider_staff"
    PROVIDER_ADMIN = "provider_admin"
    PLATFORM_ADMIN = "platform_admin"
    # market.community: an association's coordinator and its volunteers (their
    # partner is their membership there, not a municipality or a provider).
    COMMUNITY_COORDINATOR = "community_coordinator"
    VOLUNTEER = "volunteer"


MUNICIPAL_ROLES = frozenset(
    {Role.CITIZEN, Role.PROXY, Role.CASE_WORKER, Role.MUNICIPAL_ADMIN, Role.AUDITOR}
)
PROVIDER_ROLES = frozenset({Role.PROVIDER_STAFF, Role.PROVIDER_ADMIN})
# Staff a municipality may oblige to use a second factor.
MUNICIPAL_STAFF_ROLES = frozenset({Role.CASE_WORKER, Role.MUNICIPAL_ADMIN, Role.AUDITOR})


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, description="lower-cased login name")
    full_name: str = Field(max_length=200)
    password_hash: str | None = Field(default=None, max_length=255)
    role: Role = Field(sa_type=enum_type(Role))
    municipality_id: int | None = Field(default=None, foreign_key="municipality.id", index=True)
    provider_id: int | None = Field(default=None, foreign_key="provider.id", index=True)
    is_active: bool = True
    totp_secret_encrypted: str | None = Field(default=None, max_length=512)
    totp_enabled: bool = False
    failed_login_count: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Wrong second-factor codes in a row; backs off like failed passwords, but is
    # counted apart, so knowing the password never resets it.
    failed_second_factor_count: int = 0
    second_factor_locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The TOTP time step last accepted: a code of that step or an earlier one is a replay.
    totp_last_step: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UserSession(SQLModel, table=True):
    """Server-side session. The cookie holds a random token; only its hash is stored."""

    __tablename__ = "user_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    # Password accepted, second factor (or its set-up) still outstanding.
    second_factor_pending: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class ApiToken(SQLModel, table=True):
    """A system's credential. Acts as the user who created it, limited to its
    scopes (see market.auth.permissions.TOKEN_SCOPES), until it expires."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=12, description="first characters, to recognise a token")
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    scopes: str = Field(default="", max_length=200, description="space-separated scope names")
    # NULL only for tokens made before scopes existed; those are refused as expired.
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuthThrottle(SQLModel, table=True):
    """Failed attempts counted on the server for something that is not an account
    row: an unknown e-mail address, a client address or the whole letter-code
    sign-in. ``key`` is a keyed hash, so no e-mail or address is stored."""

    __tablename__ = "auth_throttle"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True)
    failures: int = 0
    window_started_at: datetime = Field(sa_type=UTCDateTime)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
