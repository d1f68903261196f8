"""The hash chain: how an entry's hash is computed, and how entries are appended.

Each tenant's entries are numbered 1, 2, 3... and each holds the hash of the one before it
and its own hash, a SHA-256 over the canonical JSON (sorted keys, no whitespace) of its
fields and the previous hash. Appends lock the tenant's chain head row (``FOR UPDATE``), so
concurrent transactions of one tenant queue behind each other instead of forking the chain.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from core.audit.context import AuditContext, current_audit_context
from core.audit.models import GENESIS_HASH, AuditChainHead, AuditEntry
from core.kernel.clock import as_utc, utcnow
from core.kernel.ids import new_id

__all__ = ["HASHED_FIELDS", "Draft", "append", "canonical_json", "entry_hash"]

#: The fields an entry's hash covers (everything but the hash itself).
HASHED_FIELDS = (
    "id",
    "tenant_id",
    "seq",
    "occurred_at",
    "actor_type",
    "actor_id",
    "action",
    "entity_type",
    "entity_id",
    "changes",
    "ip",
    "user_agent",
    "request_id",
    "prev_hash",
)


@dataclass(frozen=True, slots=True)
class Draft:
    """An entry before it has its place in the chain."""

    action: str
    entity_type: str | None = None
    entity_id: str | None = None
    changes: Mapping[str, Any] = field(default_factory=dict)
    context: AuditContext = field(default_factory=current_audit_context)
    occurred_at: datetime = field(default_factory=utcnow)


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(row: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``row``'s hashed fields (``prev_hash`` included)."""
    payload = {name: _plain(row[name]) for name in HASHED_FIELDS}
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def _insert(conn: Connection) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(AuditChainHead)


@contextmanager
def _rls_tenant(conn: Connection, tenant_id: uuid.UUID) -> Iterator[None]:
    """On PostgreSQL, let this transaction write ``tenant_id``'s rows for the block. Needed
    when the change is not made in that tenant's context (a platform admin suspending it, a
    failed sign-in recorded in each of the account's tenants)."""
    if conn.dialect.name != "postgresql":
        yield
        return
    previous = conn.execute(text("SELECT current_setting('app.tenant_id', true)")).scalar()
    if previous == str(tenant_id):
        yield
        return
    set_tenant = text("SELECT set_config('app.tenant_id', :tenant, true)")
    conn.execute(set_tenant, {"tenant": str(tenant_id)})
    try:
        yield
    finally:
        conn.execute(set_tenant, {"tenant": previous or ""})


def append(conn: Connection, tenant_id: uuid.UUID, drafts: Sequence[Draft]) -> list[dict[str, Any]]:
    """Append ``drafts`` to ``tenant_id``'s chain inside the connection's transaction."""
    if not drafts:
        return []
    heads = cast(Table, AuditChainHead.__table__)
    entries = cast(Table, AuditEntry.__table__)
    with _rls_tenant(conn, tenant_id):
        conn.execute(
            _insert(conn)
            .values(tenant_id=tenant_id, id=new_id(), last_seq=0, last_hash=GENESIS_HASH, updated_at=utcnow())
            .on_conflict_do_nothing(index_elements=["tenant_id"])
        )
        head = conn.execute(
            select(heads.c.last_seq, heads.c.last_hash)
            .where(heads.c.tenant_id == tenant_id)
            .with_for_update()
        ).one()
        seq, prev_hash = head.last_seq, head.last_hash
        rows: list[dict[str, Any]] = []
        for draft in drafts:
            seq += 1
            context = draft.context
            row: dict[str, Any] = {
                "id": new_id(),
                "tenant_id": tenant_id,
                "seq": seq,
                "occurred_at": draft.occurred_at,
                "actor_type": context.actor_type,
                "actor_id": context.actor_id,
                "action": draft.action,
                "entity_type": draft.entity_type,
                "entity_id": draft.entity_id,
                "changes": dict(draft.changes),
                "ip": context.ip,
                "user_agent": context.user_agent[:300] if context.user_agent else None,
                "request_id": context.request_id,
                "prev_hash": prev_hash,
            }
            row["hash"] = prev_hash = entry_hash(row)
            rows.append(row)
        conn.execute(insert(entries), rows)
        conn.execute(
            update(heads)
            .where(heads.c.tenant_id == tenant_id)
            .values(last_seq=seq, last_hash=prev_hash, updated_at=utcnow())
        )
    return rows
