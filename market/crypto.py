"""Secrets derived from the one secret key: encryption of personal data and
second-factor secrets at rest, keyed hashes for exact look-up, random tokens."""

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


def _derive(secret_key: str, purpose: str) -> bytes:
    return hmac.new(secret_key.encode(), purpose.encode(), hashlib.sha256).digest()


def encrypt(secret_key: str, plaintext: str) -> str:
    key = base64.urlsafe_b64encode(_derive(secret_key, "fernet"))
    return Fernet(key).encrypt(plaintext.encode()).decode()


def decrypt(secret_key: str, ciphertext: str) -> str:
    key = base64.urlsafe_b64encode(_derive(secret_key, "fernet"))
    try:
        return Fernet(key).decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:  # a changed key must fail loudly, never return garbage
        raise ValueError("cannot decrypt: the secret key differs from the one used") from exc


def rotate(secret_key: str, old_keys: list[str], ciphertext: str) -> str:
    """Re-encrypts under ``secret_key`` what any of the keys encrypted (MultiFernet)."""
    fernets = [
        Fernet(base64.urlsafe_b64encode(_derive(k, "fernet"))) for k in [secret_key, *old_keys]
    ]
    try:
        return MultiFernet(fernets).rotate(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("cannot decrypt: none of the secret keys given was used") from exc


def keyed_hash(secret_key: str, value: str, purpose: str = "lookup") -> str:
    return hmac.new(_derive(secret_key, purpose), value.encode(), hashlib.sha256).hexdigest()


def token_hash(token: str) -> str:
    """Session and API tokens are long random strings, so a plain SHA-256 suffices."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(prefix: str = "", nbytes: int = 32) -> str:
    return prefix + secrets.token_urlsafe(nbytes)
