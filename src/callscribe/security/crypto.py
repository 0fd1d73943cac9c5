"""Secrets at rest and in transit: Fernet encryption, API key hashing, password hashing,
signed tokens. Nothing here logs or returns a secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken

from callscribe.errors import CallscribeError
from callscribe.settings import get_settings

_hasher = PasswordHasher()

SECRET_HINT_MIN_LEN = 12  # below this, 4 characters are too much of the secret to show


def secret_last4(secret: str) -> str | None:
    """The last 4 characters admins may see again of a secret, or None (show only "set")
    when the secret is too short for 4 of its characters to be a safe hint."""
    return secret[-4:] if len(secret) >= SECRET_HINT_MIN_LEN else None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def constant_time_equals(a: str | bytes, b: str | bytes) -> bool:
    if isinstance(a, str):
        a = a.encode()
    if isinstance(b, str):
        b = b.encode()
    return hmac.compare_digest(a, b)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_token(prefix: str, nbytes: int = 32) -> str:
    return f"{prefix}{secrets.token_urlsafe(nbytes)}"


@lru_cache
def _fernet_for(key: str) -> Fernet:
    return Fernet(key.encode())


def secret_key() -> str:
    """The Fernet key: CALLSCRIBE_SECRET_KEY, else a key file in the data dir (mode 0600),
    created on first use."""
    settings = get_settings()
    if settings.SECRET_KEY:
        return settings.SECRET_KEY
    path = settings.DATA_DIR / "secret.key"
    if not path.exists():
        key = Fernet.generate_key()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, key)
        finally:
            os.close(fd)
    return path.read_text().strip()


def encrypt_secret(value: str) -> str:
    return _fernet_for(secret_key()).encrypt(value.encode()).decode()


def decrypt_secret(token: str) -> str:
    try:
        return _fernet_for(secret_key()).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise CallscribeError(
            "A stored secret cannot be decrypted: the secret key changed. Enter the secret again.",
            code="secret_undecryptable",
        ) from exc


def _signing_key() -> bytes:
    return hashlib.sha256(b"callscribe-signing:" + secret_key().encode()).digest()


def sign(message: str, expires_at: int | None = None) -> str:
    """URL-safe token binding `message` (and an expiry, unix seconds) to our key."""
    payload = f"{message}|{expires_at or 0}"
    mac = hmac.new(_signing_key(), payload.encode(), hashlib.sha256).digest()
    sig = base64.urlsafe_b64encode(mac[:24]).decode().rstrip("=")
    return f"{expires_at or 0}.{sig}"


def verify_signature(message: str, token: str, *, now: float | None = None) -> bool:
    try:
        exp_s, _sig = token.split(".", 1)
        expires_at = int(exp_s)
    except ValueError:
        return False
    if expires_at and (now or time.time()) > expires_at:
        return False
    return constant_time_equals(sign(message, expires_at or None), token)
