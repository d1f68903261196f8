"""Encrypted columns: how a model declares them, and the ORM events that make them transparent.

A model declares an encrypted column in one place, its ``mapped_column``::

    email: Mapped[str] = encrypted_column(search="email")   # encrypted, found by blind index
    email_bidx: Mapped[bytes] = blind_index_column()        # storage for that blind index

Services read and write plain ``str``. On flush, ``before_insert``/``before_update`` seal the
value with the tenant's current data key (bound to tenant, table, column and row id) and fill
the blind index; on ``load``/``refresh`` the value is opened again. A plain ``str`` that reaches
the database any other way (a Core ``update().values(email=...)``) is refused, so plaintext
never lands in an encrypted column. Query by value with :func:`matches`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, LargeBinary, TypeDecorator, event, false, inspect
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import (
    InstrumentedAttribute,
    Mapper,
    QueryContext,
    Session,
    attributes,
    mapped_column,
    object_session,
)
from sqlalchemy.orm.base import PassiveFlag

from core.crypto.codec import NORMALIZERS, Place, ciphertext_version, decrypt, encrypt
from core.crypto.keyring import cached_session_keys, keyring_of, session_keys
from core.kernel.ids import new_id
from core.kernel.models import Base
from core.kernel.tenancy import current_tenant_id

__all__ = [
    "EncryptedText",
    "Sealed",
    "blind_index_column",
    "blind_index_lookup",
    "encrypted_column",
    "encrypted_fields",
    "encrypted_models",
    "matches",
    "seal_new",
]


class Sealed(str):
    """A plaintext ``str`` carrying the ciphertext the flush made of it."""

    ciphertext: bytes

    def __new__(cls, value: str, ciphertext: bytes) -> Sealed:
        sealed = super().__new__(cls, value)
        sealed.ciphertext = ciphertext
        return sealed


class EncryptedText(TypeDecorator[Any]):
    """Ciphertext storage. Binds only sealed values; loads raw ciphertext (opened by the ORM)."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        if isinstance(value, Sealed):
            return value.ciphertext
        if isinstance(value, bytes):  # already a ciphertext (copied as is)
            return value
        raise ValueError("plaintext refused by an encrypted column: write it through the ORM")

    def process_result_value(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None or type(value) is bytes:  # asyncpg's bytes need no copy
            return value
        return bytes(value)


def encrypted_column(*, search: str | None = None, nullable: bool = False, **kwargs: Any) -> Any:
    """An encrypted text column (``info["sensitive"]``, redacted by the audit log).

    ``search`` names the normalizer of its blind index (``email``, ``phone``, ``exact``); the
    model then declares ``<column>_bidx = blind_index_column()`` beside it.
    """
    if search is not None and search not in NORMALIZERS:
        raise ValueError(f"unknown blind index normalizer {search!r}")
    info = {"sensitive": True, "encrypted": True, "blind_index": search}
    return mapped_column(EncryptedText(), nullable=nullable, info=info, **kwargs)


def blind_index_column(*, nullable: bool = True) -> Any:
    """The keyed blind index of an encrypted column (HMAC-SHA256), indexed with the tenant."""
    return mapped_column(LargeBinary(32), nullable=nullable, info={"sensitive": True})


@dataclass(frozen=True, slots=True)
class EncryptedField:
    key: str
    column: str
    table: str
    search: str | None
    bidx_key: str | None


_FIELDS: dict[type, tuple[EncryptedField, ...]] = {}


def encrypted_fields(cls: type) -> tuple[EncryptedField, ...]:
    """The encrypted fields of a mapped class (cached: mappers do not change once configured)."""
    cached = _FIELDS.get(cls)
    if cached is None:
        cached = _FIELDS[cls] = _find_fields(cls)
    return cached


def _find_fields(cls: type) -> tuple[EncryptedField, ...]:
    mapper: Mapper[Any] = inspect(cls)
    found: list[EncryptedField] = []
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if not column.info.get("encrypted"):
            continue
        search = column.info.get("blind_index")
        bidx_key = None
        if search:
            bidx = mapper.columns.get(f"{column.name}_bidx")
            if bidx is None:
                raise TypeError(
                    f"{cls.__name__}.{prop.key} is searchable but has no {column.name}_bidx column"
                )
            bidx_key = mapper.get_property_by_column(bidx).key
        table = mapper.local_table.name  # type: ignore[attr-defined]
        found.append(EncryptedField(prop.key, column.name, table, search, bidx_key))
    return tuple(found)


def encrypted_models() -> list[tuple[str, type]]:
    """Every mapped model with encrypted columns, as ``(table name, class)`` sorted by table."""
    models = {m.local_table.name: m.class_ for m in Base.registry.mappers if encrypted_fields(m.class_)}  # type: ignore[attr-defined]
    return sorted(models.items())


def _place(target: Any, f: EncryptedField) -> Place:
    return Place(target.tenant_id, f.table, f.column, target.id)


def _seal(session: Session, connection: Connection, target: Any, fields: Iterable[EncryptedField]) -> None:
    plain = []
    for f in fields:
        value = getattr(target, f.key)
        if value is None or isinstance(value, bytes):
            if f.bidx_key and value is None:
                setattr(target, f.bidx_key, None)
        else:
            plain.append((f, value))
    if not plain:  # nothing to seal (a member without a phone): no need for the tenant's keys
        return
    keyring = keyring_of(session)
    version, pair = session_keys(session, connection, target.tenant_id).for_writing()
    for f, value in plain:
        setattr(target, f.key, Sealed(value, encrypt(pair.data, version, value, _place(target, f))))
        if f.bidx_key and f.search:
            setattr(target, f.bidx_key, keyring.blind_index(pair, f.table, f.column, f.search, value))


def _open(target: Any, keys: Iterable[str] | None) -> None:
    fields = [f for f in encrypted_fields(type(target)) if keys is None or f.key in keys]
    state = attributes.instance_state(target)
    session = state.session
    tenant_keys = None
    for f in fields:
        raw = state.dict.get(f.key)
        if not isinstance(raw, bytes):
            continue
        if session is None:
            raise RuntimeError("an encrypted value was loaded outside a session")
        if tenant_keys is None:  # once per row: asking the session for its connection is not free
            tenant_keys = cached_session_keys(session, target.tenant_id) or session_keys(
                session, session.connection(), target.tenant_id
            )
        pair = tenant_keys.for_reading(ciphertext_version(raw))
        attributes.set_committed_value(target, f.key, decrypt(pair.data, raw, _place(target, f)))


def _session_of(target: Any) -> Session:
    session = object_session(target)
    if session is None:  # flush events always run inside a session
        raise RuntimeError("an encrypted value was flushed outside a session")
    return session


def seal_new(session: Session, connection: Connection, target: Any) -> None:
    """What a flush does to a new object before its INSERT: give it an id and seal its
    encrypted values (for a caller that inserts it without the unit of work)."""
    fields = encrypted_fields(type(target))
    if not fields:
        return
    if target.id is None:
        target.id = new_id()
    _seal(session, connection, target, fields)


@event.listens_for(Base, "before_insert", propagate=True)
def _before_insert(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    if encrypted_fields(type(target)):
        seal_new(_session_of(target), connection, target)


@event.listens_for(Base, "before_update", propagate=True)
def _before_update(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    changed = [
        f
        for f in encrypted_fields(type(target))
        if attributes.get_history(target, f.key, passive=PassiveFlag.PASSIVE_NO_INITIALIZE).has_changes()
    ]
    if changed:
        _seal(_session_of(target), connection, target, changed)


@event.listens_for(Base, "load", propagate=True)
def _on_load(target: Any, context: QueryContext) -> None:
    if encrypted_fields(type(target)):
        _open(target, None)


@event.listens_for(Base, "refresh", propagate=True)
def _on_refresh(target: Any, context: QueryContext | None, attrs: Iterable[str] | None) -> None:
    if encrypted_fields(type(target)):
        _open(target, None if attrs is None else set(attrs))


def _searchable(attribute: InstrumentedAttribute[Any]) -> EncryptedField:
    owner: type = attribute.class_  # type: ignore[assignment]
    field = next((f for f in encrypted_fields(owner) if f.key == attribute.key), None)
    if field is None or field.bidx_key is None or field.search is None:
        raise TypeError(f"{attribute} is not a searchable encrypted column")
    return field


async def blind_index_lookup(
    session: AsyncSession, attribute: InstrumentedAttribute[Any], values: Iterable[str]
) -> tuple[InstrumentedAttribute[Any], dict[bytes, str]]:
    """The blind-index column of ``attribute`` and, for one ``IN`` lookup of many values at
    once (an import's batch), each digest of ``values`` (under every readable key version)
    mapped back to its value: ``bidx.in_(digests)``, then ``digests[row.bidx]``."""
    field = _searchable(attribute)
    tenant_id: uuid.UUID = current_tenant_id()
    search: str = field.search or ""
    wanted = list(dict.fromkeys(values))

    def digests(sync_session: Session) -> dict[bytes, str]:
        keys = session_keys(sync_session, sync_session.connection(), tenant_id)
        keyring = keyring_of(sync_session)
        return {
            digest: value
            for value in wanted
            for digest in keyring.blind_indexes(keys, field.table, field.column, search, value)
        }

    found = await session.run_sync(digests) if wanted else {}
    bidx: InstrumentedAttribute[Any] = getattr(attribute.class_, field.bidx_key or "")
    return bidx, found


async def matches(
    session: AsyncSession, attribute: InstrumentedAttribute[Any], value: str
) -> ColumnElement[bool]:
    """The WHERE clause "``attribute`` equals ``value``" for a searchable encrypted column of the
    current tenant, through its blind index: ``select(Invitation).where(await matches(session,
    Invitation.email, email))``."""
    bidx, found = await blind_index_lookup(session, attribute, [value])
    return bidx.in_(list(found)) if found else false()
