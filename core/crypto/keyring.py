"""The keyring: a tenant's unwrapped data and blind-index keys, for the codec.

A tenant's wrapped keys are read from ``tenant_keys`` once per transaction (so a rotation or a
shredding done by another process is seen at the next transaction); unwrapping them through
the key provider is cached per process for ``HUIKE_KEY_CACHE_SECONDS``, keyed by the wrapped
bytes, so a re-wrap, a new version or a shredding never reuses a stale entry.

A transaction that already read the tenant's :func:`key_fingerprint` (every member request
does, with the caller: ``core.security.service.load_member_principal``) skips that read when
this process holds the keys under the same fingerprint, for as long as the unwrapped keys are
cached. Every change to ``tenant_keys`` (a new version, a rotation's step, a re-wrap, a
shredding) changes the fingerprint, so another process's change is seen at the next
transaction as before; a transaction that changes keys itself never fills this cache.

The keyring rides on the sessions of a :class:`~core.kernel.database.Database`
(``session.info``); build that database with :func:`open_database`.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, String, cast, event, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import InstrumentedAttribute, Session, SessionTransaction

from core.crypto.codec import blind_index, normalize
from core.crypto.errors import KeysMissing, KeysShredded
from core.crypto.models import KeyStatus, TenantKey
from core.crypto.providers import KEY_BYTES, KeyProvider, WrappedKey, build_key_provider
from core.kernel.database import Database
from core.kernel.settings import Settings
from core.kernel.tenancy import TenantSession

__all__ = [
    "Keyring",
    "TenantKeys",
    "adopt_fingerprint",
    "cached_session_keys",
    "key_fingerprint",
    "keyring_of",
    "open_database",
    "session_keys",
]

_INFO_KEY = "huike.keyring"
_SESSION_CACHE = "huike.tenant_keys"
#: Per transaction: the fingerprint read of each tenant's keys, before any key was loaded.
_SESSION_FINGERPRINTS = "huike.tenant_key_fingerprints"
_TABLE = TenantKey.__table__
_CACHE_SWEEP_AT = 1000


@dataclass(frozen=True, slots=True)
class KeyPair:
    data: bytes
    index: bytes


@dataclass(frozen=True, slots=True)
class TenantKeys:
    """The readable key versions of one tenant, and the one new values use."""

    tenant_id: uuid.UUID
    versions: dict[int, KeyPair] = field(default_factory=dict)
    current: int | None = None
    shredded: bool = False

    def _unavailable(self) -> Exception:
        if self.shredded:
            return KeysShredded(
                "This business's data keys were destroyed (crypto-shredded); its encrypted data "
                "can no longer be read or written."
            )
        return KeysMissing("This business has no data key yet; an operator must run `huike keys provision`.")

    def for_writing(self) -> tuple[int, KeyPair]:
        if self.current is None:
            raise self._unavailable()
        return self.current, self.versions[self.current]

    def for_reading(self, version: int) -> KeyPair:
        pair = self.versions.get(version)
        if pair is None:
            if self.shredded or not self.versions:
                raise self._unavailable()
            raise KeysMissing(f"Data key version {version} of this business is gone.")
        return pair

    def index_keys(self) -> list[bytes]:
        if not self.versions:
            raise self._unavailable()
        return [pair.index for _, pair in sorted(self.versions.items())]


def wrap_context(tenant_id: uuid.UUID, version: int, purpose: str) -> bytes:
    """What a wrapped key is bound to: a wrapped key copied to another tenant does not unwrap."""
    return f"huike-tenant-key|{tenant_id}|{version}|{purpose}".encode()


class Keyring:
    """Unwraps tenant keys through the provider, with a short per-process cache."""

    def __init__(self, provider: KeyProvider, *, cache_seconds: int = 300, phone_region: str = "CN") -> None:
        self.provider = provider
        self.cache_seconds = cache_seconds
        self.phone_region = phone_region
        self._cache: dict[tuple[uuid.UUID, int, str, bytes, bytes], tuple[float, KeyPair]] = {}
        #: tenant -> (fingerprint of its key rows, expiry, the keys they unwrapped to)
        self._tenants: dict[uuid.UUID, tuple[str, float, TenantKeys]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        return cls(
            build_key_provider(settings),
            cache_seconds=settings.key_cache_seconds,
            phone_region=settings.phone_region,
        )

    def session_info(self) -> dict[str, Any]:
        return {_INFO_KEY: self}

    def new_key_rows(self, tenant_id: uuid.UUID, version: int) -> dict[str, Any]:
        """Fresh random data and index keys for ``version``, wrapped: the columns of a TenantKey."""
        data = self.provider.wrap(secrets.token_bytes(KEY_BYTES), wrap_context(tenant_id, version, "data"))
        index = self.provider.wrap(secrets.token_bytes(KEY_BYTES), wrap_context(tenant_id, version, "index"))
        if data.master_key_id != index.master_key_id:  # a rotation began between the two wraps
            return self.new_key_rows(tenant_id, version)
        return {
            "version": version,
            "master_key_id": data.master_key_id,
            "wrapped_data_key": data.blob,
            "wrapped_index_key": index.blob,
        }

    def rewrap(self, tenant_id: uuid.UUID, row: Any) -> dict[str, Any]:
        """Re-wrap one TenantKey row's keys under the provider's current master key."""
        pair = self._unwrap(tenant_id, row)
        data = self.provider.wrap(pair.data, wrap_context(tenant_id, row.version, "data"))
        index = self.provider.wrap(pair.index, wrap_context(tenant_id, row.version, "index"))
        return {
            "master_key_id": data.master_key_id,
            "wrapped_data_key": data.blob,
            "wrapped_index_key": index.blob,
        }

    def load(self, connection: Connection, tenant_id: uuid.UUID) -> TenantKeys:
        rows = connection.execute(
            select(
                _TABLE.c.version,
                _TABLE.c.status,
                _TABLE.c.master_key_id,
                _TABLE.c.wrapped_data_key,
                _TABLE.c.wrapped_index_key,
            ).where(_TABLE.c.tenant_id == tenant_id)
        ).all()
        shredded = any(row.status == KeyStatus.SHREDDED for row in rows)
        live = [row for row in rows if row.status != KeyStatus.SHREDDED and row.wrapped_data_key]
        versions = {row.version: self._unwrap(tenant_id, row) for row in live}
        active = [row.version for row in live if row.status == KeyStatus.ACTIVE]
        return TenantKeys(tenant_id, versions, max(active) if active else None, shredded)

    def _unwrap(self, tenant_id: uuid.UUID, row: Any) -> KeyPair:
        cache_key = (tenant_id, row.version, row.master_key_id, row.wrapped_data_key, row.wrapped_index_key)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(cache_key)
            if hit is not None and hit[0] > now:
                return hit[1]
        pair = KeyPair(
            self.provider.unwrap(
                WrappedKey(row.master_key_id, row.wrapped_data_key),
                wrap_context(tenant_id, row.version, "data"),
            ),
            self.provider.unwrap(
                WrappedKey(row.master_key_id, row.wrapped_index_key),
                wrap_context(tenant_id, row.version, "index"),
            ),
        )
        with self._lock:
            if len(self._cache) >= _CACHE_SWEEP_AT:  # drop expired entries; keeps the cache small
                for key in [k for k, (expires, _) in self._cache.items() if expires <= now]:
                    del self._cache[key]
            self._cache[cache_key] = (now + self.cache_seconds, pair)
        return pair

    def invalidate(self, tenant_id: uuid.UUID | None = None) -> None:
        """Forget cached keys (of one tenant, or all): after a rotation or a shredding."""
        with self._lock:
            for key in [k for k in self._cache if tenant_id is None or k[0] == tenant_id]:
                del self._cache[key]
            for tenant in [t for t in self._tenants if tenant_id is None or t == tenant_id]:
                del self._tenants[tenant]

    def keys_for(self, tenant_id: uuid.UUID, fingerprint: str) -> TenantKeys | None:
        """The tenant's keys as loaded when its key rows had ``fingerprint``, if still cached."""
        with self._lock:
            hit = self._tenants.get(tenant_id)
        if hit is None or hit[0] != fingerprint or hit[1] <= time.monotonic():
            return None
        return hit[2]

    def remember(self, keys: TenantKeys, fingerprint: str) -> None:
        with self._lock:
            self._tenants[keys.tenant_id] = (fingerprint, time.monotonic() + self.cache_seconds, keys)

    def blind_indexes(self, keys: TenantKeys, table: str, column: str, kind: str, value: str) -> list[bytes]:
        """The blind index of ``value`` under every readable version (one outside rotations)."""
        normalized = normalize(kind, value, region=self.phone_region, field=column)
        return [blind_index(k, table, column, normalized) for k in keys.index_keys()]

    def blind_index(self, pair: KeyPair, table: str, column: str, kind: str, value: str) -> bytes:
        normalized = normalize(kind, value, region=self.phone_region, field=column)
        return blind_index(pair.index, table, column, normalized)


def keyring_of(session: Session) -> Keyring:
    keyring = session.info.get(_INFO_KEY)
    if not isinstance(keyring, Keyring):
        raise RuntimeError(
            "This session has no keyring: build the Database with core.crypto.open_database(settings)."
        )
    return keyring


def key_fingerprint(tenant_id: ColumnElement[Any] | InstrumentedAttribute[Any]) -> ColumnElement[str | None]:
    """A scalar subquery naming the state of ``tenant_id``'s key rows (each version, its
    status and master key), to select alongside another query of the transaction and hand
    to :func:`adopt_fingerprint`."""
    master = func.coalesce(_TABLE.c.master_key_id, "")
    state = cast(_TABLE.c.version, String) + ":" + _TABLE.c.status + ":" + master
    return select(func.aggregate_strings(state, ",")).where(_TABLE.c.tenant_id == tenant_id).scalar_subquery()


def adopt_fingerprint(session: Session, tenant_id: uuid.UUID, fingerprint: str | None) -> None:
    """This transaction read ``fingerprint`` of the tenant's key rows: use this process's keys
    of that fingerprint, or remember the keys this transaction will load under it."""
    if not isinstance(session.info.get(_INFO_KEY), Keyring):
        return  # a database without the keyring reads no encrypted values
    if tenant_id in session.info.get(_SESSION_CACHE, {}):
        return  # loaded (maybe changed) earlier in this transaction: the fingerprint is late
    fingerprint = fingerprint or ""
    keys = keyring_of(session).keys_for(tenant_id, fingerprint)
    if keys is not None:
        session.info.setdefault(_SESSION_CACHE, {})[tenant_id] = keys
    else:
        session.info.setdefault(_SESSION_FINGERPRINTS, {})[tenant_id] = fingerprint


def cached_session_keys(session: Session, tenant_id: uuid.UUID) -> TenantKeys | None:
    """The tenant's keys if this transaction has them already (no connection needed)."""
    cache: dict[uuid.UUID, TenantKeys] = session.info.get(_SESSION_CACHE, {})
    return cache.get(tenant_id)


def session_keys(session: Session, connection: Connection, tenant_id: uuid.UUID) -> TenantKeys:
    """The tenant's keys, read once per transaction of ``session``."""
    cache: dict[uuid.UUID, TenantKeys] = session.info.setdefault(_SESSION_CACHE, {})
    keys = cache.get(tenant_id)
    if keys is None:
        keyring = keyring_of(session)
        keys = cache[tenant_id] = keyring.load(connection, tenant_id)
        fingerprint = session.info.get(_SESSION_FINGERPRINTS, {}).pop(tenant_id, None)
        if fingerprint is not None:  # read before these rows, in this transaction
            keyring.remember(keys, fingerprint)
    return keys


def forget_session_keys(session: Session) -> None:
    """The transaction changed keys: read them again, and cache nothing of what it reads."""
    session.info.pop(_SESSION_CACHE, None)
    session.info.pop(_SESSION_FINGERPRINTS, None)


@event.listens_for(TenantSession, "after_transaction_end")
def _forget_at_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        forget_session_keys(session)


def open_database(settings: Settings, url: str | None = None, **kwargs: Any) -> Database:
    """The application's Database with the keyring on its sessions (``url`` defaults to
    ``settings.database_url``)."""
    keyring = Keyring.from_settings(settings)
    return Database(url or settings.database_url, session_info=keyring.session_info(), **kwargs)
