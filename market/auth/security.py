"""Password hashing (argon2) and time-based one-time codes (pyotp)."""

import hmac
from datetime import UTC, datetime

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the timing the same.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def use_password_hasher(hasher: PasswordHasher) -> None:
    """Swaps the argon2 parameters. The test suite uses cheap ones (hundreds of
    users are created); production keeps argon2-cffi's RFC 9106 defaults."""
    global _hasher, _DUMMY_HASH
    _hasher = hasher
    _DUMMY_HASH = hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


async def hash_password_off_loop(password: str) -> str:
    """The same, in a worker thread: argon2 is slow on purpose and would stall
    every other request on the event loop while it works."""
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(hash_password, password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, account: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name="Velfærdsmarked")


def verify_totp(secret: str, code: str) -> bool:
    return matching_totp_step(secret, code) is not None


def matching_totp_step(secret: str, code: str, at: datetime | None = None) -> int | None:
    """The time step whose code this is (one step of clock drift either way is
    allowed), or None. The caller refuses a step it has accepted before: pyotp's
    ``verify`` alone would accept the same code again for up to 90 seconds."""
    code = code.replace(" ", "").strip()
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    at = at or datetime.now(UTC)
    now_step = totp.timecode(at)
    for offset in (0, -1, 1):
        if hmac.compare_digest(totp.generate_otp(now_step + offset), code):
            return now_step + offset
    return None
