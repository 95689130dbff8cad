import pytest
from pydantic import ValidationError

from market.config import PLACEHOLDER_SECRET, Settings


def test_placeholder_secret_is_refused_outside_development():
    with pytest.raises(ValidationError, match="MARKET_SECRET_KEY"):
        Settings(environment="production", secret_key=PLACEHOLDER_SECRET)
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(environment="production", secret_key="short")


def test_placeholder_secret_is_accepted_for_development():
    assert Settings(environment="development").secret_key.get_secret_value() == PLACEHOLDER_SECRET


def test_settings_read_the_market_prefix(monkeypatch):
    monkeypatch.setenv("MARKET_DATABASE_URL", "postgresql+asyncpg://x@127.0.0.1/y")
    assert not Settings().is_sqlite
