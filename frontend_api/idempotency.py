"""``Idempotency-Key``: a retried POST replays the first answer instead of acting twice.

What a client gets (docs/api.md has the full story):

* A tenant POST with ``Idempotency-Key: <8-255 of A-Z a-z 0-9 . _ : + / = ->`` runs once; its
  answer (status, ``Content-Type``, ``Location``, ``ETag`` and body) is kept for 24 hours per
  tenant, credential and key, and a retry gets that very answer back with
  ``Idempotent-Replayed: true``.
* The same key with another method, path or body: ``422 idempotency_key_reused``.
* A retry while the first request still runs: ``409 idempotency_key_in_progress`` with
  ``Retry-After``; the database decides who runs (:func:`core.kernel.idempotency.claim`).
* A request that failed (4xx/5xx) changed nothing, so its key is released for a retry.
* Routes without a tenant (signup, sign-in, token refresh, password reset, accepting an
  invitation, platform admin) and routes whose answer holds a secret shown once (new API
  key, 2FA secret, switched tokens) do not keep answers: a key sent there, or on any method
  but POST, is refused with ``422 idempotency_not_supported`` rather than silently ignored.

Two pieces: :func:`claim_or_replay` runs before the handler (after the guard, so the
credential is known); :func:`idempotency_middleware` captures the answer and stores it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from litestar import Request, Response
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from core.kernel import idempotency
from core.kernel.database import Database
from core.kernel.errors import Conflict, Invalid
from core.security.principal import Principal
from frontend_api.security import declared_access

__all__ = ["HEADER", "REPLAYED_HEADER", "claim_or_replay", "idempotency_middleware", "supports_idempotency"]

log = logging.getLogger("huike.idempotency")
HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEY = re.compile(r"^[A-Za-z0-9._:+/=-]{8,255}$")
_KEPT_HEADERS = ("content-type", "location", "etag")
_STATE = "idempotency_pending"


@dataclass
class _Pending:
    """A key this request owns; the middleware stores the answer or releases the key."""

    db: Database
    tenant_id: uuid.UUID
    subject: str
    key: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: list[bytes] = field(default_factory=list)
    complete: bool = False


def supports_idempotency(opt: dict[str, Any], method: str) -> bool:
    """Whether answers of this route are kept: tenant POSTs, unless the route opts out with
    ``idempotency=False`` (its answer holds a secret that must not be stored)."""
    access = declared_access(opt)
    return method == "POST" and access not in (None, "public", "platform") and opt.get("idempotency", True)


def _subject(principal: Principal) -> str:
    return f"{principal.kind}:{principal.actor_id}"


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    digest = hashlib.sha256(f"{method}\n{path}?".encode())
    digest.update(query + b"\n" + body)
    return digest.hexdigest()


async def claim_or_replay(request: Request[Any, Any, Any]) -> Response[bytes] | None:
    """Before the handler: nothing to do, the stored answer to replay, or a refusal."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not supports_idempotency(request.route_handler.opt, request.method):
        raise Invalid(
            "This route does not keep answers for retries (no tenant, or the answer holds a secret "
            "shown once); send the request without Idempotency-Key.",
            code="idempotency_not_supported",
            field="Idempotency-Key",
        )
    if not _KEY.match(key):
        raise Invalid(
            "Idempotency-Key must be 8 to 255 characters of A-Z, a-z, 0-9 and . _ : + / = - "
            "(a UUID is a good choice).",
            code="invalid_idempotency_key",
            field="Idempotency-Key",
        )
    principal: Principal = request.state.principal
    db: Database = request.app.state.services.db
    subject = _subject(principal)
    claim = await idempotency.claim(
        db,
        principal.tenant_id,
        subject,
        key,
        fingerprint(request.method, request.url.path, request.scope["query_string"], await request.body()),
    )
    if claim.owned:
        request.scope.setdefault("state", {})[_STATE] = _Pending(db, principal.tenant_id, subject, key)
        return None
    if claim.mismatch:
        raise Invalid(
            "This Idempotency-Key was used for another request (method, path or body differ); "
            "use a new key for a new request.",
            code="idempotency_key_reused",
            field="Idempotency-Key",
        )
    if claim.answer is None:
        raise Conflict(
            "A request with this Idempotency-Key is still running; retry in a moment to get its answer.",
            code="idempotency_key_in_progress",
            headers={"Retry-After": "1"},
        )
    headers = {**claim.answer.headers, REPLAYED_HEADER: "true"}
    media_type = headers.pop("content-type", None)
    return Response(
        claim.answer.body, status_code=claim.answer.status_code, headers=headers, media_type=media_type
    )


def idempotency_middleware(app: ASGIApp) -> ASGIApp:
    """Capture the answer of a request that owns its key, then store it (or free the key)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] != "POST":
            await app(scope, receive, send)
            return

        async def capture(message: Message) -> None:
            pending = scope.get("state", {}).get(_STATE)
            if isinstance(pending, _Pending):
                if message["type"] == "http.response.start":
                    pending.status = message["status"]
                    for name, value in message.get("headers", []):
                        text = name.decode("latin-1").lower()
                        if text in _KEPT_HEADERS:
                            pending.headers[text] = value.decode("latin-1")
                elif message["type"] == "http.response.body":
                    pending.body.append(message.get("body", b""))
                    pending.complete = not message.get("more_body", False)
            await send(message)

        try:
            await app(scope, receive, capture)
        finally:
            pending = scope.get("state", {}).get(_STATE)
            if isinstance(pending, _Pending):
                await _settle(pending)

    return middleware


async def _settle(pending: _Pending) -> None:
    try:
        if pending.status is not None and pending.status < 400 and pending.complete:
            answer = idempotency.StoredAnswer(pending.status, pending.headers, b"".join(pending.body))
            await idempotency.complete(pending.db, pending.tenant_id, pending.subject, pending.key, answer)
        elif pending.status is not None:
            await idempotency.release(pending.db, pending.tenant_id, pending.subject, pending.key)
        # No answer at all (the client went away mid-request): whether the change committed
        # is unknown, so the key stays "in progress" until it expires rather than risk a
        # second execution.
    except Exception:
        log.exception("could not store the answer of an idempotent request", extra={"key": pending.key})
