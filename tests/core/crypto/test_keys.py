"""Key management: provider files, per-tenant keys, master and tenant rotation, shredding."""

from __future__ import annotations

import base64
import dataclasses
import json
import secrets
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import undefer

from core.crypto.codec import ciphertext_version
from core.crypto.errors import KeysShredded, MasterKeyUnavailable
from core.crypto.fields import matches
from core.crypto.keyring import open_database
from core.crypto.models import KeyRotation, KeyStatus, TenantKey
from core.crypto.providers import LocalKeyProvider, master_key_id
from core.crypto.schemas import TenantRotationProgress
from core.crypto.service import provision_missing_keys, rotate_master, rotate_tenant, shred_tenant
from core.kernel.database import Database
from core.kernel.ids import new_id
from core.kernel.models import Tenant
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.security.models import Invitation, Membership
from tests.core.crypto.factories import Shop, emails, invite, new_shop
from tests.helpers import unique_email

pytestmark = pytest.mark.anyio


def _b64key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _key_file(settings: Settings) -> dict[str, Any]:
    content: dict[str, Any] = json.loads(Path(settings.data_path("master.key")).read_text())
    return content


async def _keys(db: Database, shop: Shop) -> list[TenantKey]:
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            return list((await session.scalars(select(TenantKey).order_by(TenantKey.version))).all())


async def _stored_versions(db: Database, shop: Shop) -> list[int]:
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            table = Invitation.__table__.c
            blobs = (
                await session.scalars(select(table.email).where(table.tenant_id == shop.tenant_id))
            ).all()
    return sorted(ciphertext_version(bytes(b)) for b in blobs)


def test_the_key_file_is_created_on_first_use_with_mode_0600(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path / "var"))
    provider = LocalKeyProvider.from_settings(settings)
    key_id = provider.current_key_id()
    path = tmp_path / "var" / "master.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key_id.startswith("mk-")
    assert LocalKeyProvider.from_settings(settings).current_key_id() == key_id  # read back, not re-made
    assert base64.b64decode(json.loads(path.read_text())["keys"][key_id])  # 32 bytes, base64


def test_a_master_key_from_the_environment_needs_no_file(tmp_path: Path) -> None:
    key = _b64key()
    settings = Settings.from_env({"HUIKE_MASTER_KEY": key, "HUIKE_DATA_DIR": str(tmp_path)})
    provider = LocalKeyProvider.from_settings(settings)
    assert provider.current_key_id() == master_key_id(base64.b64decode(key))
    wrapped = provider.wrap(b"k" * 32, b"ctx")
    assert provider.unwrap(wrapped, b"ctx") == b"k" * 32
    assert not (tmp_path / "master.key").exists()


async def test_each_new_tenant_gets_its_own_wrapped_keys(db: Database) -> None:
    a, b = await new_shop(db, "A"), await new_shop(db, "B")
    [key_a], [key_b] = await _keys(db, a), await _keys(db, b)
    assert (key_a.version, key_a.status) == (1, KeyStatus.ACTIVE)
    assert key_a.master_key_id
    assert key_a.master_key_id == key_b.master_key_id
    assert key_a.wrapped_data_key != key_b.wrapped_data_key
    assert key_a.wrapped_data_key != key_a.wrapped_index_key


async def test_tenants_without_keys_get_them_from_provision(db: Database) -> None:
    tenant_id = new_id()
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            session.add(Tenant(id=tenant_id, name="Old", slug=f"old-{tenant_id.hex[:6]}"))
    assert await provision_missing_keys(db) == 1
    assert await provision_missing_keys(db) == 0


async def test_after_master_rotation_everything_still_reads(db: Database, settings: Settings) -> None:
    a, b = await new_shop(db, "A"), await new_shop(db, "B")
    a_email, b_email = unique_email("a"), unique_email("b")
    await invite(db, a, a_email)
    await invite(db, b, b_email)
    before = {k.master_key_id for shop in (a, b) for k in await _keys(db, shop)}
    assert list(a_email)
    assert len(before) == 1
    await emails(db, a)  # warm this process's cache with the old wrapping

    report = await rotate_master(db)

    assert report.rewrapped == 2
    assert report.retired == sorted(before)
    assert {k.master_key_id for shop in (a, b) for k in await _keys(db, shop)} == {report.master_key_id}
    key_file = _key_file(settings)
    assert list(key_file["keys"]) == [report.master_key_id]  # the old master key is gone
    assert list((await emails(db, a)).values()) == [a_email]
    fresh = open_database(settings)  # another process, reading the rotated key file
    try:
        assert list((await emails(fresh, b)).values()) == [b_email]
        await invite(fresh, b, unique_email("after"))
    finally:
        await fresh.dispose()


async def test_env_master_key_rotation_keeps_the_old_key_readable_until_done(
    db: Database, settings: Settings
) -> None:
    old, new = _b64key(), _b64key()
    under_old = open_database(dataclasses.replace(settings, master_key=old))
    during = open_database(dataclasses.replace(settings, master_key=new, master_key_previous=(old,)))
    after = open_database(dataclasses.replace(settings, master_key=new))
    try:
        shop = await new_shop(under_old)
        email = unique_email("env")
        await invite(under_old, shop, email)
        with pytest.raises(MasterKeyUnavailable):
            await emails(after, shop)  # the new key alone cannot read yet
        assert list((await emails(during, shop)).values()) == [email]
        report = await rotate_master(during)
        assert report.retired == [master_key_id(base64.b64decode(old))]
        assert list((await emails(after, shop)).values()) == [email]
    finally:
        for database in (under_old, during, after):
            await database.dispose()


async def test_tenant_rotation_interrupted_midway_then_resumed_completes(db: Database) -> None:
    shop = await new_shop(db)
    other = await new_shop(db, "Other")
    addresses = [unique_email(f"r{i}") for i in range(5)]
    for address in addresses:
        await invite(db, shop, address)
    await invite(db, other, unique_email("untouched"))
    seen: list[TenantRotationProgress] = []

    def crash_after_first_batch(progress: TenantRotationProgress) -> None:
        seen.append(progress)
        if progress.rows_done:  # other encrypted tables of this shop are empty: passed at once
            raise KeyboardInterrupt  # the operator's Ctrl-C, or a killed worker

    with pytest.raises(KeyboardInterrupt):
        await rotate_tenant(db, shop.tenant_id, batch_size=2, progress=crash_after_first_batch)

    assert seen[-1].rows_done == 2
    assert await _stored_versions(db, shop) == [1, 1, 1, 2, 2]
    assert sorted((await emails(db, shop)).values()) == sorted(addresses)  # readable midway
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            for address in (addresses[0], addresses[-1]):  # rotated and not yet rotated rows
                assert await session.scalar(
                    select(Invitation.id).where(await matches(session, Invitation.email, address))
                )
            rotation = await session.scalar(select(KeyRotation))
    assert rotation is not None
    assert rotation.status == "running"

    progress: list[TenantRotationProgress] = []
    done = await rotate_tenant(db, shop.tenant_id, batch_size=2, progress=progress.append)

    assert done.finished
    assert done.to_version == 2
    assert done.rows_done == 5
    assert sorted({p.rows_done for p in progress}) == [4, 5]  # empty tables add no rows
    assert await _stored_versions(db, shop) == [2, 2, 2, 2, 2]
    assert [(k.version, k.status) for k in await _keys(db, shop)] == [(2, KeyStatus.ACTIVE)]
    assert sorted((await emails(db, shop)).values()) == sorted(addresses)
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            assert await session.scalar(
                select(Invitation.id).where(await matches(session, Invitation.email, addresses[-1]))
            )
    assert await _stored_versions(db, other) == [1]
    again = await rotate_tenant(db, shop.tenant_id)
    assert again.to_version == 3
    assert await _stored_versions(db, shop) == [3, 3, 3, 3, 3]


async def test_tenant_rotation_re_encrypts_a_members_deferred_phone(db: Database) -> None:
    shop = await new_shop(db)
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            membership = await session.scalar(select(Membership).where(Membership.user_id == shop.owner_id))
            assert membership is not None
            membership.phone = "+8613800138000"

    done = await rotate_tenant(db, shop.tenant_id, batch_size=2)

    assert done.rows_done == 1  # the one membership with a phone; none of the other rows
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            table = Membership.__table__.c
            [blob] = (await session.scalars(select(table.phone).where(table.phone.is_not(None)))).all()
            assert ciphertext_version(bytes(blob)) == 2
            reread = await session.scalar(select(Membership).options(undefer(Membership.phone)))
            assert reread is not None
            assert reread.phone == "+8613800138000"


async def test_after_shredding_nothing_of_the_tenant_reads(db: Database) -> None:
    shop = await new_shop(db)
    other = await new_shop(db, "Other")
    email = unique_email("gone")
    await invite(db, shop, email)
    other_email = unique_email("kept")
    await invite(db, other, other_email)
    await emails(db, shop)  # a warm cache must not outlive the shredding

    report = await shred_tenant(db, shop.tenant_id)

    assert report.versions_destroyed == 1
    assert all(k.wrapped_data_key is None and k.status == KeyStatus.SHREDDED for k in await _keys(db, shop))
    with pytest.raises(KeysShredded, match="destroyed"):
        await emails(db, shop)
    with pytest.raises(KeysShredded):
        await invite(db, shop, unique_email())
    with tenant_context(shop.tenant_id), pytest.raises(KeysShredded):
        async with db.transaction() as session:
            await matches(session, Invitation.email, email)
    assert list((await emails(db, other)).values()) == [other_email]
    assert await provision_missing_keys(db) == 0  # a shredded tenant never gets new keys
