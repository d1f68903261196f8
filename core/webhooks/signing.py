"""Webhook signatures: ``Huike-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``.

The signed message is ``f"{t}.".encode() + body``: the timestamp, a full stop, and the request
body exactly as sent (bytes, before any JSON parsing). The key is the endpoint's signing
secret (UTF-8). While a rotated-out secret is still in its grace period the header carries
one ``v1=`` per valid secret; a receiver accepts the request when any of them matches.

This module depends on the standard library only, so a receiver written in Python may copy it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

__all__ = ["DEFAULT_TOLERANCE_SECONDS", "SCHEME", "sign", "signature_header", "verify"]

#: The version tag of the signature scheme in the header.
SCHEME = "v1"
#: How old (or how far in the future) a signed timestamp may be: limits replays.
DEFAULT_TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}.{body}"`` under ``secret``."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    """The ``Huike-Signature`` value for ``body`` signed at ``timestamp`` with each secret."""
    if not secrets:
        raise ValueError("at least one secret is needed")
    return ",".join([f"t={timestamp}", *(f"{SCHEME}={sign(s, timestamp, body)}" for s in secrets)])


def verify(
    secret: str,
    header: str,
    body: bytes,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    *,
    now: int | None = None,
) -> bool:
    """Whether ``header`` (a ``Huike-Signature`` value) signs ``body`` with ``secret`` at a
    timestamp within ``tolerance`` seconds of ``now`` (default: the current time)."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == SCHEME and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    current = int(time.time()) if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)
