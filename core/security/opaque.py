"""Opaque secrets handed to people once (API keys, invitation and reset links)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

__all__ = ["digest", "new_secret", "parse_tenant_token", "same_digest", "tenant_token"]


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def digest(secret: str) -> str:
    """SHA-256 hex: enough for high-entropy secrets, which need no slow hash."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same_digest(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)


def tenant_token(prefix: str, tenant_id: uuid.UUID, row_id: uuid.UUID, secret: str) -> str:
    """``<prefix>_<tenant hex>_<row hex>_<secret>``: the tenant and row ids let the server
    put the tenant in context before any query; the secret proves the token is genuine."""
    return f"{prefix}_{tenant_id.hex}_{row_id.hex}_{secret}"


def parse_tenant_token(prefix: str, token: str) -> tuple[uuid.UUID, uuid.UUID, str] | None:
    """``(tenant_id, row_id, secret)`` of a :func:`tenant_token`, or None if it is not one."""
    parts = token.strip().split("_", 3)
    if len(parts) != 4 or parts[0] != prefix or not parts[3]:
        return None
    try:
        if len(parts[1]) != 32 or len(parts[2]) != 32:
            return None
        return uuid.UUID(hex=parts[1]), uuid.UUID(hex=parts[2]), parts[3]
    except ValueError:
        return None
