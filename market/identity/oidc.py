"""The OpenID Connect relying party: discovery, the authorisation request with
PKCE, state and nonce (authlib), the code exchange, and the ID token verified
against the provider's published keys (joserfc, authlib's JOSE library), with a
bounded clock skew. No database here: the service keeps state and bindings."""

import ipaddress
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import httpx
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

# Asymmetric only: a token signed with the client secret (HS256) or unsigned
# ("none") proves nothing about the provider.
ALLOWED_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]
CACHE_SECONDS = 3600
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class OidcError(Exception):
    """A sign-in the provider or its token did not justify. ``reason`` is a short
    code for the audit log (never a claim value)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_outbound_url(url: str, *, allow_loopback: bool) -> str:
    """Only https to a named host (http and loopback only in development and
    tests); never a link-local address (cloud metadata) or other oddities."""
    parsed = urlparse(url)
    host = (parsed.hostname or "").lower()
    if not host or parsed.username or parsed.password:
        raise OidcError("bad_url")
    is_loopback = host in LOOPBACK_HOSTS
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        is_loopback = address.is_loopback
        if address.is_link_local or address.is_multicast or address.is_unspecified:
            raise OidcError("bad_url")
    if is_loopback and not allow_loopback:
        raise OidcError("bad_url")
    if parsed.scheme != "https" and not (parsed.scheme == "http" and is_loopback):
        raise OidcError("bad_url")
    return url


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None


@dataclass
class OidcClient:
    """One per app. ``transport`` lets a test stand between us and the provider."""

    allow_loopback: bool = False
    clock_skew_seconds: int = 60
    timeout_seconds: float = 10.0
    transport: httpx.AsyncBaseTransport | None = None
    _metadata: dict[str, tuple[float, ProviderMetadata]] = field(default_factory=dict)
    _jwks: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)

    def _http(self) -> httpx.AsyncClient:
        # Never follow redirects: the addresses we call are the checked ones.
        return httpx.AsyncClient(
            timeout=self.timeout_seconds, transport=self.transport, follow_redirects=False
        )

    async def _get_json(self, url: str) -> dict[str, Any]:
        check_outbound_url(url, allow_loopback=self.allow_loopback)
        try:
            async with self._http() as http:
                response = await http.get(url, headers={"accept": "application/json"})
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcError("provider_unreachable") from exc
        if not isinstance(body, dict):
            raise OidcError("provider_unreachable")
        return body

    async def metadata(self, issuer: str) -> ProviderMetadata:
        cached = self._metadata.get(issuer)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        body = await self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
        # The document must name the issuer we trust, or a typo could trust another.
        if body.get("issuer") != issuer:
            raise OidcError("issuer_mismatch")
        try:
            meta = ProviderMetadata(
                issuer=issuer,
                authorization_endpoint=str(body["authorization_endpoint"]),
                token_endpoint=str(body["token_endpoint"]),
                jwks_uri=str(body["jwks_uri"]),
                end_session_endpoint=body.get("end_session_endpoint") or None,
            )
        except KeyError as exc:
            raise OidcError("provider_metadata_incomplete") from exc
        for url in (meta.authorization_endpoint, meta.token_endpoint, meta.jwks_uri):
            check_outbound_url(url, allow_loopback=self.allow_loopback)
        if meta.end_session_endpoint:
            check_outbound_url(meta.end_session_endpoint, allow_loopback=self.allow_loopback)
        self._metadata[issuer] = (time.monotonic() + CACHE_SECONDS, meta)
        return meta

    def authorization_url(
        self,
        meta: ProviderMetadata,
        *,
        client_id: str,
        redirect_uri: str,
        scopes: str,
        state: str,
        nonce: str,
        code_verifier: str,
    ) -> str:
        return add_params_to_uri(
            meta.authorization_endpoint,
            [
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", redirect_uri),
                ("scope", scopes),
                ("state", state),
                ("nonce", nonce),
                ("code_challenge", create_s256_code_challenge(code_verifier)),
                ("code_challenge_method", "S256"),
            ],
        )

    async def exchange_code(
        self,
        meta: ProviderMetadata,
        *,
        client_id: str,
        client_secret: str,
        code: str,
        redirect_uri: str,
        code_verifier: str,
    ) -> str:
        """Returns the ID token from the token endpoint (client_secret_basic)."""
        check_outbound_url(meta.token_endpoint, allow_loopback=self.allow_loopback)
        try:
            async with self._http() as http:
                response = await http.post(
                    meta.token_endpoint,
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": redirect_uri,
                        "code_verifier": code_verifier,
                    },
                    auth=(client_id, client_secret),
                    headers={"accept": "application/json"},
                )
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcError("token_exchange_failed") from exc
        if response.status_code != 200 or not isinstance(body, dict):
            raise OidcError("token_exchange_failed")
        id_token = body.get("id_token")
        if not isinstance(id_token, str):
            raise OidcError("no_id_token")
        return id_token

    async def _keys(self, meta: ProviderMetadata, *, refresh: bool = False) -> KeySet:
        cached = self._jwks.get(meta.jwks_uri)
        if refresh or not cached or cached[0] <= time.monotonic():
            body = await self._get_json(meta.jwks_uri)
            cached = (time.monotonic() + CACHE_SECONDS, body)
            self._jwks[meta.jwks_uri] = cached
        try:
            return KeySet.import_key_set(cached[1])  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise OidcError("provider_keys_unusable") from exc

    async def verify_id_token(
        self,
        meta: ProviderMetadata,
        id_token: str,
        *,
        client_id: str,
        nonce: str,
        now: float | None = None,
    ) -> dict[str, Any]:
        token = None
        for refresh in (False, True):  # a key rotated since we cached: fetch once more
            keys = await self._keys(meta, refresh=refresh)
            try:
                token = jwt.decode(id_token, keys, algorithms=ALLOWED_ALGORITHMS)
                break
            except BadSignatureError as exc:
                raise OidcError("bad_signature") from exc
            except JoseError as exc:
                if refresh:
                    raise OidcError("bad_signature") from exc
            except ValueError as exc:
                raise OidcError("malformed_token") from exc
        assert token is not None
        claims = token.claims
        registry = jwt.JWTClaimsRegistry(
            now=int(now if now is not None else time.time()),
            leeway=self.clock_skew_seconds,
            iss={"essential": True, "value": meta.issuer},
            aud={"essential": True, "value": client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError as exc:
            raise OidcError("expired") from exc
        except (InvalidClaimError, MissingClaimError) as exc:
            raise OidcError(f"bad_claim_{getattr(exc, 'claim', 'unknown')}") from exc
        except JoseError as exc:  # e.g. issued in the future beyond the skew
            raise OidcError("bad_claims") from exc
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != client_id:
            raise OidcError("bad_claim_azp")
        if claims.get("nonce") != nonce:
            raise OidcError("wrong_nonce")
        return claims

    def end_session_form(
        self,
        meta: ProviderMetadata,
        *,
        client_id: str,
        id_token_hint: str,
        post_logout_redirect_uri: str,
    ) -> "EndSessionForm | None":
        """RP-initiated logout, sent as a form POST: a citizen's ID token carries
        the CPR claim, so it must never travel in a URL."""
        if not meta.end_session_endpoint:
            return None
        return EndSessionForm(
            action=meta.end_session_endpoint,
            fields={
                "id_token_hint": id_token_hint,
                "client_id": client_id,
                "post_logout_redirect_uri": post_logout_redirect_uri,
            },
        )


@dataclass(frozen=True)
class EndSessionForm:
    action: str
    fields: dict[str, str]

    @property
    def origin(self) -> str:
        parsed = urlparse(self.action)
        return f"{parsed.scheme}://{parsed.netloc}"


def mfa_asserted(claims: dict[str, Any], *, acr_values: str, amr_values: str) -> bool:
    """Whether the provider says the person used a second factor at the level
    the municipality requires (an acr it names, or an amr method it names)."""
    wanted_acr = set(acr_values.split())
    wanted_amr = set(amr_values.split())
    acr = claims.get("acr")
    if wanted_acr and isinstance(acr, str) and acr in wanted_acr:
        return True
    amr = claims.get("amr")
    if wanted_amr and isinstance(amr, list) and wanted_amr & {str(m) for m in amr}:
        return True
    return False
