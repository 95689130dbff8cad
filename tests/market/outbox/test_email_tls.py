"""E-mail carries welfare alerts, so it goes over TLS by default and never falls
back to plain text (issue 15, 'Personal data in e-mail'). Real aiosmtpd servers,
with a self-signed certificate made in the test."""

import pytest

from market.config import Settings
from market.outbox import delivery
from tests.smtp_servers import smtp


def _settings(settings, port, **extra):
    return settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port, **extra})


async def _send(settings):
    await delivery.send_email(
        settings, to=["vagt@aarhus.example"], subject="Alarm", body="Se siden"
    )


def test_tls_is_the_default():
    assert Settings.model_fields["smtp_tls"].default == "starttls"


async def test_starttls_by_default_with_the_certificate_checked(settings, tmp_path):
    with smtp("starttls", tmp_path) as (port, inbox, cert):
        await _send(_settings(settings, port, smtp_ca_file=cert))
        assert inbox.tls == [True]
        # The same server, a certificate nobody vouched for: refused, nothing sent.
        with pytest.raises(delivery.DeliveryError):
            await _send(_settings(settings, port))
        assert len(inbox.messages) == 1


async def test_implicit_tls(settings, tmp_path):
    with smtp("implicit", tmp_path) as (port, inbox, cert):
        await _send(_settings(settings, port, smtp_ca_file=cert, smtp_tls="implicit"))
        assert inbox.tls == [True]


async def test_a_server_without_starttls_gets_nothing_by_default(settings, tmp_path):
    """No silent fall-back to plain text."""
    with smtp("plain", tmp_path) as (port, inbox, _):
        with pytest.raises(delivery.DeliveryError):
            await _send(_settings(settings, port))
        assert inbox.messages == []
        await _send(_settings(settings, port, smtp_tls="none"))  # allowed outside production
        assert inbox.tls == [False]


def test_production_refuses_plain_smtp():
    with pytest.raises(ValueError, match="MARKET_SMTP_TLS"):
        Settings(environment="production", secret_key="p" * 40, smtp_tls="none")
