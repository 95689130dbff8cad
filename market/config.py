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
    cookie_secure: bool = False
    # After this many failed logins in a row the account backs off exponentially.
    login_backoff_after: int = 5
    login_backoff_base_seconds: int = 30
    login_backoff_max_seconds: int = 15 * 60
    default_language: Literal["da", "en"] = "da"
    sqlite_busy_timeout_ms: int = 30_000
    # Outgoing e-mail; nothing is e-mailed while smtp_host is unset.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "velfaerdsmarked@localhost"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    # The outbox retries with exponential back-off, then gives up and shows the failure.
    outbox_max_attempts: int = 10
    outbox_backoff_base_seconds: int = 30
    outbox_backoff_max_seconds: int = 3600
    webhook_timeout_seconds: float = 10.0
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

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> "Settings":
        secret = self.secret_key.get_secret_value()
        if self.environment != "development" and (secret == PLACEHOLDER_SECRET or len(secret) < 32):
            raise ValueError(
                "MARKET_SECRET_KEY must be set to a random value of at least 32 characters "
                f"when MARKET_ENVIRONMENT is {self.environment!r}."
            )
        return self

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
