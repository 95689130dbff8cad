"""A real OpenID Connect provider on loopback for the tests: the PyPI package
oidc-provider-mock (authlib's server pieces under Flask), served by werkzeug in a
thread on a free 127.0.0.1 port. It signs ID tokens with its own RSA key,
publishes them at /jwks, and puts whatever claims a test stores for a subject
(PUT /users/{sub}) into the ID token, so the CPR claim of a MitID broker and
acr/amr work as they would there."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

import httpx
import oidc_provider_mock
import werkzeug.serving


@dataclass
class MockProvider:
    issuer: str

    def set_claims(self, subject: str, claims: dict) -> None:
        response = httpx.put(f"{self.issuer}/users/{quote(subject, safe='')}", json=claims)
        assert response.status_code == 204, response.text

    def authorize(self, authorize_url: str, subject: str) -> str:
        """Plays the person at the provider's login form; returns where the
        provider sends the browser back (our callback with code and state)."""
        response = httpx.post(authorize_url, data={"sub": subject})
        assert response.status_code == 302, response.text
        return response.headers["location"]

    def end_session(self, fields: dict[str, str]) -> str:
        """Plays the person signing out at the provider (its form, then its
        confirmation); returns where the provider sends the browser back to."""
        shown = httpx.post(f"{self.issuer}/oauth2/end_session", data=fields)
        assert shown.status_code == 200, shown.text
        assert fields["id_token_hint"] in shown.text
        confirmed = httpx.post(
            f"{self.issuer}/oauth2/end_session/confirm",
            data={"redirect_uri": fields["post_logout_redirect_uri"]},
        )
        assert confirmed.status_code == 302, confirmed.text
        return confirmed.headers["location"]


@contextmanager
def run_mock_provider(token_max_age: timedelta = timedelta(hours=1)) -> Iterator[MockProvider]:
    app = oidc_provider_mock.app(require_nonce=True, access_token_max_age=token_max_age)
    # The package wraps itself in werkzeug's interactive debugger; not here.
    app.wsgi_app = app.wsgi_app.app  # type: ignore[attr-defined]
    app.debug = False
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield MockProvider(issuer=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
