"""Wall 0: the schema itself. Every tenant-owned table has ``tenant_id``, a primary key of
``(tenant_id, id)``, foreign keys to tenant-owned tables that include ``tenant_id``, and
unique constraints that include ``tenant_id``."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, MetaData, String, Table, UniqueConstraint, Uuid

from core.migrations.metadata import target_metadata


def _tenant_owned_tables(metadata: MetaData = target_metadata) -> list[Table]:
    return [t for t in metadata.sorted_tables if "tenant_id" in t.c]


def schema_violations(metadata: MetaData = target_metadata) -> list[str]:
    problems: list[str] = []
    tenant_owned = {t.name for t in _tenant_owned_tables(metadata)}
    for table in _tenant_owned_tables(metadata):
        pk = [c.name for c in table.primary_key.columns]
        if pk != ["tenant_id", "id"]:
            problems.append(f"{table.name}: primary key is {pk}, not ['tenant_id', 'id']")
        for fk in table.foreign_key_constraints:
            if fk.referred_table.name in tenant_owned and "tenant_id" not in fk.column_keys:
                problems.append(
                    f"{table.name}: foreign key {fk.column_keys} to {fk.referred_table.name} lacks tenant_id"
                )
        for constraint in table.constraints:
            if isinstance(constraint, UniqueConstraint) and "tenant_id" not in constraint.columns:
                problems.append(
                    f"{table.name}: unique {[c.name for c in constraint.columns]} lacks tenant_id"
                )
        for index in table.indexes:
            if index.unique and "tenant_id" not in index.columns:
                problems.append(f"{table.name}: unique index {index.name} lacks tenant_id")
        for column in table.columns:
            if column.unique and column.name != "tenant_id":
                problems.append(f"{table.name}: column {column.name} is unique without tenant_id")
    return problems


def test_there_are_tenant_owned_tables_to_check() -> None:
    names = {t.name for t in _tenant_owned_tables()}
    assert {"memberships", "roles", "teams", "api_keys", "invitations"} <= names


def test_every_tenant_owned_table_keeps_tenant_id_in_keys_and_constraints() -> None:
    assert schema_violations() == []


def test_the_check_catches_each_kind_of_violation() -> None:
    metadata = MetaData()
    Table(
        "parents", metadata, Column("tenant_id", Uuid, primary_key=True), Column("id", Uuid, primary_key=True)
    )
    Table(
        "children",
        metadata,
        Column("id", Uuid, primary_key=True),
        Column("tenant_id", Uuid),
        Column("code", String, unique=True),
        Column("parent_id", Uuid, ForeignKey("parents.id")),
    )
    found = "\n".join(schema_violations(metadata))
    assert "children: primary key is ['id']" in found
    assert "children: foreign key ['parent_id'] to parents lacks tenant_id" in found
    assert "children: column code is unique without tenant_id" in found
