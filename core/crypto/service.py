"""Key management use cases: provisioning, master and tenant rotation, crypto-shredding.

Tenant rotation is a resumable service function: each batch is one transaction that also
saves the cursor in ``key_rotations``, so a rerun (or the background job that will drive it)
continues where the last one stopped.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, Select, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import attributes, undefer

from core.crypto.fields import encrypted_fields, encrypted_models
from core.crypto.keyring import forget_session_keys, keyring_of
from core.crypto.models import KeyRotation, KeyStatus, TenantKey
from core.crypto.providers import KeyProvider
from core.crypto.schemas import MasterRotationReport, ShredReport, TenantRotationProgress
from core.kernel.clock import utcnow
from core.kernel.database import Database
from core.kernel.errors import Conflict
from core.kernel.models import Tenant
from core.kernel.tenancy import current_tenant_id, tenant_context

__all__ = [
    "PlatformRewrap",
    "key_status",
    "provision_missing_keys",
    "provision_tenant_keys",
    "rotate_master",
    "rotate_tenant",
    "shred_tenant",
]

Progress = Callable[[TenantRotationProgress], None]


async def provision_tenant_keys(session: AsyncSession) -> TenantKey:
    """Create version 1 of the current tenant's keys, in the caller's transaction."""
    tenant_id = current_tenant_id()
    keyring = keyring_of(session.sync_session)
    key = TenantKey(tenant_id=tenant_id, **keyring.new_key_rows(tenant_id, 1))
    session.add(key)
    await session.flush()
    forget_session_keys(session.sync_session)
    return key


async def _tenant_ids(db: Database) -> list[uuid.UUID]:
    async with db.transaction() as session:
        return list((await session.scalars(select(Tenant.id).order_by(Tenant.id))).all())


async def provision_missing_keys(db: Database) -> int:
    """Give keys to every tenant that has none (created before encryption). Returns how many."""
    created = 0
    for tenant_id in await _tenant_ids(db):
        with tenant_context(tenant_id):
            async with db.transaction() as session:
                if await session.scalar(select(func.count()).select_from(TenantKey)) == 0:
                    await provision_tenant_keys(session)
                    created += 1
    return created


#: Re-wraps platform secrets wrapped by the master key directly (not through a tenant key),
#: such as apps' webhook secrets: ``(db, provider, new master key id) -> how many changed``.
PlatformRewrap = Callable[[Database, KeyProvider, str], Awaitable[int]]


async def rotate_master(
    db: Database, platform_secrets: Sequence[PlatformRewrap] = ()
) -> MasterRotationReport:
    """Re-wrap every tenant key, and each of ``platform_secrets``, under a new master key; the
    old one stays readable until all are done. Rerunning after an interruption continues."""
    async with db.sessions() as probe:
        keyring = keyring_of(probe.sync_session)
    master_key_id = keyring.provider.begin_rotation()
    rewrapped = 0
    for _ in range(5):
        # A tenant created while a pass ran may have wrapped under the old key: pass again
        # over a fresh list until a pass finds nothing left under an old master key.
        tenants = await _tenant_ids(db)
        done = sum([await _rewrap_tenant(db, tenant_id, master_key_id) for tenant_id in tenants])
        done += sum([await rewrap(db, keyring.provider, master_key_id) for rewrap in platform_secrets])
        rewrapped += done
        if done == 0:
            retired = keyring.provider.finish_rotation()
            return MasterRotationReport(master_key_id, len(tenants), rewrapped, retired)
    raise Conflict(
        "Data keys are still being wrapped under an old master key: is every process using the "
        "new one? Run the rotation again.",
        code="master_rotation_unfinished",
    )


async def _rewrap_tenant(db: Database, tenant_id: uuid.UUID, master_key_id: str) -> int:
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            keyring = keyring_of(session.sync_session)
            rows = (
                await session.scalars(
                    select(TenantKey)
                    .where(TenantKey.master_key_id != master_key_id, TenantKey.wrapped_data_key.is_not(None))
                    .with_for_update()
                )
            ).all()
            for row in rows:
                for name, value in keyring.rewrap(tenant_id, row).items():
                    setattr(row, name, value)
    keyring.invalidate(tenant_id)
    return len(rows)


async def _start_or_resume(session: AsyncSession, tenant_id: uuid.UUID) -> KeyRotation:
    rotation = await session.scalar(
        select(KeyRotation).where(KeyRotation.status == "running").with_for_update()
    )
    if rotation is not None:
        return rotation
    keys = (await session.scalars(select(TenantKey).with_for_update())).all()
    if any(k.status == KeyStatus.SHREDDED for k in keys):
        raise Conflict(
            "This business's keys were shredded; there is nothing to rotate.", code="keys_shredded"
        )
    active = [k for k in keys if k.status == KeyStatus.ACTIVE]
    if not active:
        raise Conflict("This business has no data key; run `huike keys provision`.", code="data_keys_missing")
    current = max(active, key=lambda k: k.version)
    new_version = max(k.version for k in keys) + 1
    for k in active:
        k.status = KeyStatus.RETIRING
    session.add(
        TenantKey(
            tenant_id=tenant_id, **keyring_of(session.sync_session).new_key_rows(tenant_id, new_version)
        )
    )
    rotation = KeyRotation(from_version=current.version, to_version=new_version, rows_done=0)
    session.add(rotation)
    await session.flush()
    forget_session_keys(session.sync_session)
    return rotation


def _progress(rotation: KeyRotation, tenant_id: uuid.UUID, finished: bool = False) -> TenantRotationProgress:
    return TenantRotationProgress(
        tenant_id,
        rotation.from_version,
        rotation.to_version,
        rotation.table_name,
        rotation.rows_done,
        finished,
    )


async def _rotation(session: AsyncSession, rotation_id: uuid.UUID) -> KeyRotation:
    return (
        await session.scalars(select(KeyRotation).where(KeyRotation.id == rotation_id).with_for_update())
    ).one()


async def _batch(
    session: AsyncSession, rotation_id: uuid.UUID, tables: list[str], batch_size: int
) -> KeyRotation:
    """Re-encrypt the next batch and move the cursor; one transaction."""
    rotation = await _rotation(session, rotation_id)
    table = rotation.table_name or tables[0]
    model = dict(encrypted_models())[table]
    fields = encrypted_fields(model)
    # Only rows holding a ciphertext (most members have no phone); a deferred encrypted
    # column (``memberships.phone``) is loaded, to be re-encrypted too.
    columns = [getattr(model, f.key) for f in fields]
    stmt: Select[Any] = (
        select(model)
        .options(*(undefer(column) for column in columns))
        .where(or_(*(column.is_not(None) for column in columns)))
        .order_by(model.id)  # type: ignore[attr-defined]
        .limit(batch_size)
    )
    if rotation.last_id is not None:
        stmt = stmt.where(model.id > rotation.last_id)  # type: ignore[attr-defined]
    rows = (await session.scalars(stmt)).all()
    for row in rows:
        for f in fields:
            if getattr(row, f.key) is not None:
                attributes.flag_modified(row, f.key)
    rotation.rows_done += len(rows)
    if len(rows) == batch_size:
        rotation.table_name, rotation.last_id = table, rows[-1].id
    else:
        later = tables[tables.index(table) + 1 :]
        rotation.table_name, rotation.last_id = (later[0] if later else "", None)
    await session.flush()
    return rotation


async def rotate_tenant(
    db: Database, tenant_id: uuid.UUID, *, batch_size: int = 500, progress: Progress | None = None
) -> TenantRotationProgress:
    """Make a new data key version for the tenant and re-encrypt its rows under it in batches.

    Resumable: an interrupted rotation is continued by calling this again. ``progress`` is
    called after every committed batch.
    """
    tables = [name for name, _ in encrypted_models()]
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            rotation = await _start_or_resume(session, tenant_id)
            rotation_id = rotation.id
        while rotation.table_name != "" and tables:
            async with db.transaction() as session:
                rotation = await _batch(session, rotation_id, tables, batch_size)
            if progress is not None:
                progress(_progress(rotation, tenant_id))
        async with db.transaction() as session:
            rotation = await _rotation(session, rotation_id)
            await session.execute(delete(TenantKey).where(TenantKey.version != rotation.to_version))
            rotation.status, rotation.finished_at, rotation.table_name = "done", utcnow(), None
            keyring_of(session.sync_session).invalidate(tenant_id)
        return _progress(rotation, tenant_id, finished=True)


async def shred_tenant(db: Database, tenant_id: uuid.UUID) -> ShredReport:
    """Destroy the tenant's data keys: every encrypted value of it becomes unreadable, in the
    database and in every backup taken before. Irreversible."""
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            destroyed = cast(
                CursorResult[Any],
                await session.execute(
                    update(TenantKey)
                    .where(TenantKey.wrapped_data_key.is_not(None))
                    .values(
                        status=KeyStatus.SHREDDED,
                        master_key_id=None,
                        wrapped_data_key=None,
                        wrapped_index_key=None,
                    )
                ),
            ).rowcount
            if await session.scalar(select(func.count()).select_from(TenantKey)) == 0:
                session.add(TenantKey(version=0, status=KeyStatus.SHREDDED))
            await session.execute(delete(KeyRotation))
            keyring_of(session.sync_session).invalidate(tenant_id)
    return ShredReport(tenant_id, destroyed or 0)


async def key_status(db: Database, tenant_id: uuid.UUID) -> list[str]:
    """Human-readable lines: each key version, then the latest rotation and its progress."""
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            versions = (await session.scalars(select(TenantKey).order_by(TenantKey.version))).all()
            latest = await session.scalar(
                select(KeyRotation).order_by(KeyRotation.started_at.desc()).limit(1)
            )
    lines = [f"key v{key.version}: {key.status} (master key {key.master_key_id or '-'})" for key in versions]
    if not versions:
        lines.append("no keys: run `huike keys provision`")
    if latest is None:
        lines.append("no rotation yet")
    else:
        where = f", now in {latest.table_name}" if latest.table_name else ""
        finished = f", finished {latest.finished_at:%Y-%m-%d %H:%M} UTC" if latest.finished_at else ""
        lines.append(
            f"rotation v{latest.from_version} -> v{latest.to_version}: {latest.status}, "
            f"{latest.rows_done} rows re-encrypted{where}{finished}"
        )
    return lines
