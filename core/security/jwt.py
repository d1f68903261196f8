"""Signed tokens: HS256 JWTs through joserfc, with the algorithm pinned on decode."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from joserfc import jwt as jose_jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from core.kernel.errors import Unauthorized

__all__ = ["ALGORITHM", "TokenSigner"]

#: The only algorithm we sign with and the only one we accept (never ``none``).
ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class TokenSigner:
    """Signs and verifies tokens of a given ``typ`` (access, refresh, platform)."""

    key: OctKey
    issuer: str = "huike"

    @classmethod
    def from_secret(cls, secret: str) -> TokenSigner:
        return cls(OctKey.import_key(secret.encode()))

    def sign(self, typ: str, claims: dict[str, Any], ttl_seconds: int) -> str:
        now = int(time.time())
        payload = {
            **claims,
            "typ": typ,
            "iss": self.issuer,
            "iat": now,
            "exp": now + ttl_seconds,
            "jti": claims.get("jti", str(uuid.uuid4())),
        }
        return jose_jwt.encode({"alg": ALGORITHM}, payload, self.key, algorithms=[ALGORITHM])

    def verify(self, token: str, typ: str) -> dict[str, Any]:
        """Return the claims of a valid, unexpired token of type ``typ``.

        Raises:
            Unauthorized: anything else, with one message that reveals nothing.
        """
        try:
            decoded = jose_jwt.decode(token, self.key, algorithms=[ALGORITHM])
            registry = jose_jwt.JWTClaimsRegistry(
                exp={"essential": True},
                iss={"essential": True, "value": self.issuer},
                typ={"essential": True, "value": typ},
            )
            registry.validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise Unauthorized("The token is invalid or expired.", code="invalid_token") from exc
        return dict(decoded.claims)
