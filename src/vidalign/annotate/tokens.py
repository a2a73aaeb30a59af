"""Bearer tokens: random, shown once, stored only as their SHA-256."""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> str:
    """A fresh URL-safe token with 192 bits of entropy."""
    return secrets.token_urlsafe(24)


def hash_token(token: str) -> str:
    """Hex SHA-256 of a token. Tokens are high-entropy, so no salt or slow hash is needed."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
