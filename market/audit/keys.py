"""The keys that make the audit chain evidence against someone who can write to
the database: an HMAC key for the event hashes and an Ed25519 key for signed
checkpoints. Neither is ever stored in the database.

The HMAC key comes from MARKET_AUDIT_KEY, or is derived from MARKET_SECRET_KEY
when that is unset. Keys used before a rotation stay listed in
MARKET_AUDIT_PREVIOUS_KEYS so older events still verify; each event names the
id of the key that hashed it. The checkpoint signing key is a PEM file at
MARKET_AUDIT_SIGNING_KEY_FILE (made by `market audit keygen`)."""

import base64
import hashlib
import hmac
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from market.config import Settings, get_settings


class AuditKeyError(Exception):
    """A key is missing, unreadable or not an Ed25519 key."""


def _hmac_key(material: str) -> bytes:
    # Frozen: migration 0015 derives the same key; changing it orphans every chain.
    return hmac.new(material.encode(), b"audit-chain", hashlib.sha256).digest()


def key_id(key: bytes) -> str:
    """A short public name for a key (a hash of it), stored with each event."""
    return hashlib.sha256(b"audit-key-id:" + key).hexdigest()[:16]


@dataclass(frozen=True)
class ChainKeys:
    current_id: str
    by_id: dict[str, bytes]

    @property
    def current(self) -> bytes:
        return self.by_id[self.current_id]


@lru_cache(maxsize=8)
def _chain_keys(current_material: str, previous: tuple[str, ...]) -> ChainKeys:
    current = _hmac_key(current_material)
    by_id = {key_id(k): k for k in (_hmac_key(m) for m in previous)}
    by_id[key_id(current)] = current
    return ChainKeys(current_id=key_id(current), by_id=by_id)


def chain_keys(settings: Settings) -> ChainKeys:
    current = settings.audit_key or settings.secret_key
    previous = tuple(k.get_secret_value() for k in settings.audit_previous_keys)
    if settings.audit_key is None:
        # Keyed from the secret key: while `market keys rotate` moves to a new one,
        # the old secret keys still vouch for the events they hashed.
        previous += tuple(settings.old_keys)
    return _chain_keys(current.get_secret_value(), previous)


_override: ChainKeys | None = None


def current_keys() -> ChainKeys:
    """The process's keys. They come from the process settings (not from one
    app's), so every writer and verifier in a process agrees."""
    return _override or chain_keys(get_settings())


@contextmanager
def using_keys(settings: Settings) -> Iterator[ChainKeys]:
    """For tests: hash and verify with the keys of other settings for a while."""
    global _override
    before, _override = _override, chain_keys(settings)
    try:
        yield _override
    finally:
        _override = before


# --- checkpoint signing (Ed25519) -------------------------------------------------


def public_key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_text(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def new_signing_key(path: Path) -> Ed25519PublicKey:
    """Writes a new private key readable by its owner only; refuses to overwrite."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return key.public_key()


def load_signing_key(settings: Settings) -> Ed25519PrivateKey:
    path = settings.audit_signing_key_file
    if path is None:
        raise AuditKeyError(
            "MARKET_AUDIT_SIGNING_KEY_FILE is not set: make a key with `market audit keygen`."
        )
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise AuditKeyError(f"cannot read the signing key {path}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError(f"{path} is not an Ed25519 private key")
    return key


def trusted_public_keys(settings: Settings) -> dict[str, Ed25519PublicKey]:
    """The keys a checkpoint may be signed by: the signing key's own public half
    and any public keys listed (earlier signing keys, or an auditor's copy)."""
    keys: list[Ed25519PublicKey] = []
    if settings.audit_signing_key_file is not None:
        keys.append(load_signing_key(settings).public_key())
    for path in settings.audit_trusted_public_keys:
        try:
            key = serialization.load_pem_public_key(Path(path).read_bytes())
        except (OSError, ValueError) as exc:
            raise AuditKeyError(f"cannot read the public key {path}: {exc}") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise AuditKeyError(f"{path} is not an Ed25519 public key")
        keys.append(key)
    return {public_key_id(k): k for k in keys}


def signature_valid(public_key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
