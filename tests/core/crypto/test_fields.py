"""Encrypted columns on a real model (the invitation's email): nothing plaintext at rest,
transparent to services, found by blind index, bound to its row and tenant."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import StatementError

from core.crypto.errors import DecryptionFailed
from core.crypto.fields import encrypted_fields, encrypted_models, matches
from core.kernel.database import Database
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.migrations.metadata import target_metadata
from core.security.models import Invitation
from tests.conftest import ON_POSTGRES
from tests.core.crypto.factories import emails, invite, new_shop
from tests.helpers import unique_email

pytestmark = pytest.mark.anyio


async def test_the_email_reads_back_as_plain_text_but_is_stored_as_ciphertext(db: Database) -> None:
    shop = await new_shop(db)
    email = unique_email("plain")
    invitation_id = await invite(db, shop, email)
    assert await emails(db, shop) == {invitation_id: email}
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            stored, index = (await session.execute(text("SELECT email, email_bidx FROM invitations"))).one()
    assert isinstance(stored, bytes | memoryview)
    assert email.encode() not in bytes(stored)
    assert email.split("@")[0].encode() not in bytes(stored)
    assert len(bytes(index)) == 32


@pytest.mark.skipif(ON_POSTGRES, reason="reads the SQLite database file")
async def test_the_sqlite_file_holds_no_plaintext_of_an_encrypted_value(
    db: Database, settings: Settings
) -> None:
    shop = await new_shop(db)
    marker = f"needle-{unique_email('secret')}"
    await invite(db, shop, marker)
    await db.dispose()  # flush the WAL into the file as far as SQLite will
    files = _database_files(settings)
    # The account email is platform-level and plaintext: proof that the search reads the data.
    assert any(shop.owner_email.encode() in content for content in files)
    assert all(marker.encode() not in content for content in files)
    assert all(marker.split("@")[0].encode() not in content for content in files)


async def test_the_blind_index_finds_the_record_by_email(db: Database) -> None:
    shop = await new_shop(db)
    other = await new_shop(db, "Other")
    email = unique_email("find-me")
    wanted = await invite(db, shop, email)
    await invite(db, shop, unique_email("someone-else"))
    await invite(db, other, email)  # the same person invited by another business
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            found = (
                await session.scalars(
                    select(Invitation).where(await matches(session, Invitation.email, f" {email.upper()} "))
                )
            ).all()
            missing = await session.scalar(
                select(Invitation.id).where(await matches(session, Invitation.email, unique_email()))
            )
            own_index = await session.scalar(select(Invitation.email_bidx).where(Invitation.id == wanted))
    assert [(i.id, i.email) for i in found] == [(wanted, email)]
    assert missing is None
    with tenant_context(other.tenant_id):
        async with db.transaction() as session:
            other_index = await session.scalar(select(Invitation.email_bidx))
    assert other_index != own_index  # the index key is per tenant: no cross-tenant linking


async def test_a_ciphertext_copied_to_another_row_does_not_decrypt(db: Database) -> None:
    shop = await new_shop(db)
    source = await invite(db, shop, unique_email("source"))
    target = await invite(db, shop, unique_email("target"))
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            await session.execute(
                text(
                    "UPDATE invitations SET email = (SELECT email FROM invitations WHERE id = :s) "
                    "WHERE id = :t"
                ),
                {"s": _param(db, source), "t": _param(db, target)},
            )
    with pytest.raises(DecryptionFailed, match="copied from another row or tenant"):
        await emails(db, shop)


async def test_a_ciphertext_copied_to_another_tenant_does_not_decrypt(
    db: Database, rls_free_db: Database
) -> None:
    a = await new_shop(db, "A")
    b = await new_shop(db, "B")
    a_row = await invite(db, a, unique_email("a"))
    b_row = await invite(db, b, unique_email("b"))
    async with rls_free_db.engine.begin() as conn:  # an attacker with database access
        stolen = (
            await conn.execute(
                text("SELECT email FROM invitations WHERE id = :id"), {"id": _param(db, a_row)}
            )
        ).scalar_one()
        await conn.execute(
            text("UPDATE invitations SET email = :e WHERE id = :id"), {"e": stolen, "id": _param(db, b_row)}
        )
    with pytest.raises(DecryptionFailed):
        await emails(db, b)


async def test_plaintext_written_around_the_orm_is_refused(db: Database) -> None:
    shop = await new_shop(db)
    invitation_id = await invite(db, shop, unique_email())
    with tenant_context(shop.tenant_id), pytest.raises(StatementError, match="plaintext refused"):
        async with db.transaction() as session:
            await session.execute(
                update(Invitation).where(Invitation.id == invitation_id).values(email="leak@example.com")
            )


async def test_changing_an_encrypted_value_re_encrypts_it_and_its_index(db: Database) -> None:
    shop = await new_shop(db)
    invitation_id = await invite(db, shop, unique_email("before"))
    after = unique_email("after")
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            invitation = await session.get_one(Invitation, (shop.tenant_id, invitation_id))
            invitation.email = after
        async with db.transaction() as session:
            found = await session.scalar(
                select(Invitation.id).where(await matches(session, Invitation.email, after))
            )
    assert found == invitation_id
    assert await emails(db, shop) == {invitation_id: after}


async def test_a_refreshed_or_reloaded_invitation_reads_as_plain_text(db: Database) -> None:
    shop = await new_shop(db)
    email = unique_email("fresh")
    invitation_id = await invite(db, shop, email)
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            invitation = await session.get_one(Invitation, (shop.tenant_id, invitation_id))
            await session.refresh(invitation)
            assert invitation.email == email
            session.expire(invitation, ["email"])
            assert await session.scalar(select(Invitation.email_bidx)) is not None
            reloaded = await session.scalar(select(Invitation).execution_options(populate_existing=True))
            assert reloaded is invitation
            assert invitation.email == email


def test_every_encrypted_column_is_sensitive_and_its_blind_index_is_indexed_by_tenant() -> None:
    models = dict(encrypted_models())
    assert "invitations" in models
    for table_name, model in models.items():
        table = target_metadata.tables[table_name]
        for field in encrypted_fields(model):
            assert table.c[field.column].info["sensitive"] is True
            if field.search:
                bidx = table.c[f"{field.column}_bidx"]
                assert bidx.info["sensitive"] is True
                assert any(
                    [c.name for c in index.columns] == ["tenant_id", bidx.name] for index in table.indexes
                ), f"{table_name}.{bidx.name} needs an index on (tenant_id, {bidx.name})"


def _database_files(settings: Settings) -> list[bytes]:
    """The raw bytes of the SQLite database and its journal files."""
    return [path.read_bytes() for path in Path(settings.data_dir).glob("test.db*")]


def _param(db: Database, value: object) -> object:
    """Raw SQL parameters: SQLite stores UUIDs as 32 hex characters."""
    import uuid

    return value.hex if db.dialect == "sqlite" and isinstance(value, uuid.UUID) else value
