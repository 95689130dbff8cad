"""Settings from the environment (prefix MARKET_), one object per process."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "change-me-development-only-secret-key"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MARKET_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///var/market.db"
    secret_key: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    upload_dir: Path = Path("var/uploads")
    max_upload_bytes: int = 5 * 1024 * 1024
    session_lifetime_hours: int = 12
    # Cookies only over HTTPS. Unset: on in production, off otherwise; production
    # refuses it switched off.
    cookie_secure: bool = False
    # Strict-Transport-Security max-age. Unset: one year in production, 0 (no
    # header) otherwise.
    hsts_seconds: int = 0
    # TLS ends at a reverse proxy that sends Strict-Transport-Security itself: the
    # app then sends none (cookies stay Secure: the browser still speaks HTTPS).
    tls_terminated_by_proxy: bool = False
    # After this many failed logins in a row the account backs off exponentially.
    login_backoff_after: int = 5
    login_backoff_base_seconds: int = 30
    login_backoff_max_seconds: int = 15 * 60
    # Letter-code sign-in: failures from one client address before it backs off,
    # and failures from everywhere (within the window) before all of it backs off.
    letter_code_backoff_after: int = 10
    letter_code_global_backoff_after: int = 300
    # A counter of failures (unknown e-mail, client address) forgets after this long.
    throttle_window_seconds: int = 3600
    # API tokens: lifetime offered by default, and the longest allowed.
    api_token_default_days: int = 90
    api_token_max_days: int = 365
    default_language: Literal["da", "en"] = "da"
    sqlite_busy_timeout_ms: int = 30_000
    # Outgoing e-mail; nothing is e-mailed while smtp_host is unset.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "velfaerdsmarked@localhost"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # "starttls" upgrades a plain connection, "implicit" speaks TLS from the first
    # byte (port 465). "none" sends personal data in clear and is refused in production.
    smtp_tls: Literal["starttls", "implicit", "none"] = "starttls"
    # A CA bundle to trust for the SMTP server's certificate (e.g. a municipal CA).
    smtp_ca_file: Path | None = None
    # The address people open the service at. Links in e-mails and the identity
    # provider's redirect URIs start with it (e-mails never use the Host header a
    # request brought, which anyone can forge). Unset, pages use the request's
    # address and e-mails http://127.0.0.1:8000: set it in production.
    public_url: str | None = None
    # Single-use links: an invitation to a new colleague, a forgotten password.
    invitation_valid_hours: int = 72
    password_reset_valid_minutes: int = 60
    # A request for a password reset is answered after at least this long, whether
    # or not the address has an account, so the timing tells nobody which one.
    password_reset_answer_seconds: float = 0.5
    # The outbox retries with exponential back-off, then gives up and shows the failure.
    outbox_max_attempts: int = 10
    outbox_backoff_base_seconds: int = 30
    outbox_backoff_max_seconds: int = 3600
    webhook_timeout_seconds: float = 10.0
    # Webhooks to loopback or private addresses, or over plain http. Only for
    # development and tests, where the receiver runs on this machine; refused in production.
    webhook_allow_private: bool = False
    # Extra CA certificates to trust for webhook receivers (the system's CAs always count).
    webhook_ca_file: Path | None = None
    # After a provider rotates its webhook secret, the old one keeps signing this long.
    webhook_secret_grace_hours: int = 24
    # The audit chain's HMAC key; derived from secret_key when unset. Keys used
    # before a rotation stay here so older events still verify.
    audit_key: SecretStr | None = None
    audit_previous_keys: list[SecretStr] = []
    # The Ed25519 key that signs audit checkpoints (`market audit keygen`), and
    # public keys of earlier signing keys that checkpoints may still carry.
    audit_signing_key_file: Path | None = None
    audit_trusted_public_keys: list[Path] = []
    # A welfare alert nobody acknowledged within this many minutes is shown as overdue.
    alert_overdue_minutes: int = 30
    # Run periodic work (`market tick`) inside the server every this many seconds.
    run_periodic: bool = False
    tick_interval_seconds: int = 60
    # Payments: the offline gateway needs no network; "stripe" uses the stripe SDK.
    payment_gateway: Literal["offline", "stripe"] = "offline"
    currency: str = "dkk"
    stripe_api_key: SecretStr | None = None
    # Another base address for Stripe's API (tests point it at localstripe).
    stripe_api_base: str | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_max_network_retries: int = 2
    # Logs: one JSON object a line (for a log collector), or plain text for a terminal.
    log_format: Literal["json", "text"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # /metrics answers a request with this bearer token; while unset, only loopback clients.
    metrics_token: SecretStr | None = None
    # /readyz fails when the last successful periodic run is older than this. Unset: five
    # tick intervals when the server runs the periodic work itself, else not checked.
    periodic_max_age_seconds: int | None = None
    # /readyz fails above these many undelivered and given-up outbox messages.
    ready_max_outbox_backlog: int = 1000
    ready_max_dead_letters: int = 100
    # Earlier secret keys, comma-separated, read only while `market keys rotate` runs.
    old_secret_keys: SecretStr | None = None

    # Signing in with OpenID Connect (docs/identity.md).
    # Let identity providers live on http://127.0.0.1 (always allowed outside production).
    oidc_allow_loopback: bool = False
    # How far the provider's clock may differ from ours when checking an ID token.
    oidc_clock_skew_seconds: int = 60
    # How long a sign-in started at the provider may take.
    oidc_state_minutes: int = 10
    # How long a binding link for a staff member stays valid.
    binding_link_hours: int = 72

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> "Settings":
        secret = self.secret_key.get_secret_value()
        if self.environment != "development" and (secret == PLACEHOLDER_SECRET or len(secret) < 32):
            raise ValueError(
                "MARKET_SECRET_KEY must be set to a random value of at least 32 characters "
                f"when MARKET_ENVIRONMENT is {self.environment!r}."
            )
        if self.environment == "production" and self.smtp_tls == "none":
            raise ValueError(
                "MARKET_SMTP_TLS=none would send personal data unencrypted: "
                "use starttls or implicit when MARKET_ENVIRONMENT is production."
            )
        if self.environment == "production" and self.webhook_allow_private:
            raise ValueError(
                "MARKET_WEBHOOK_ALLOW_PRIVATE must not be set "
                "when MARKET_ENVIRONMENT is production."
            )
        if self.environment == "production":
            if "cookie_secure" not in self.model_fields_set:
                self.cookie_secure = True
            elif not self.cookie_secure:
                raise ValueError(
                    "MARKET_COOKIE_SECURE cannot be false when MARKET_ENVIRONMENT is "
                    "'production': sign-in cookies must only travel over HTTPS."
                )
            if "hsts_seconds" not in self.model_fields_set:
                self.hsts_seconds = 365 * 24 * 3600
        return self

    @property
    def oidc_loopback_allowed(self) -> bool:
        return self.oidc_allow_loopback or self.environment != "production"

    @property
    def mail_link_base(self) -> str:
        """The start of every link in an e-mail."""
        return (self.public_url or "http://127.0.0.1:8000").rstrip("/")

    @property
    def old_keys(self) -> list[str]:
        if self.old_secret_keys is None:
            return []
        return [k.strip() for k in self.old_secret_keys.get_secret_value().split(",") if k.strip()]

    @property
    def periodic_deadline_seconds(self) -> int | None:
        if self.periodic_max_age_seconds is not None:
            return self.periodic_max_age_seconds
        return 5 * self.tick_interval_seconds if self.run_periodic else None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
