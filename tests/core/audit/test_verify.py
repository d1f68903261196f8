"""``huike audit verify`` finds an edited, a deleted (also the newest) and a swapped entry."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from click.testing import CliRunner, Result
from litestar.testing import TestClient
from sqlalchemy import delete, update

from core.audit.models import AuditEntry
from core.kernel.settings import Settings
from frontend_api.cli import main
from tests.core.audit.conftest import owner_sql
from tests.helpers import signup

TABLE = AuditEntry.__table__


def _verify(settings: Settings, *args: str) -> Result:
    env = {
        "HUIKE_DATABASE_URL": settings.database_url,
        "HUIKE_MIGRATION_DATABASE_URL": settings.migration_database_url,
        "HUIKE_DATA_DIR": settings.data_dir,
    }
    return CliRunner().invoke(main, ["audit", "verify", *args], env=env)


def _where(tenant: dict[str, Any], seq: int) -> Any:
    return (TABLE.c.tenant_id == uuid.UUID(tenant["tenant_id"])) & (TABLE.c.seq == seq)


def test_an_untouched_log_verifies(
    client: TestClient[Any], settings: Settings, tenant: dict[str, Any]
) -> None:
    signup(client, "Beta")
    result = _verify(settings)
    assert result.exit_code == 0, result.output
    assert "Audit log intact: 2 tenant(s)" in result.output


def test_an_edited_entry_is_reported(settings: Settings, tenant: dict[str, Any]) -> None:
    owner_sql(settings, update(TABLE).where(_where(tenant, 3)).values(actor_type="system", actor_id=None))
    result = _verify(settings)
    assert result.exit_code == 1
    assert f"tenant acme ({tenant['tenant_id']}) at entry 3: the entry was edited" in result.output


def test_an_edited_diff_is_reported(settings: Settings, tenant: dict[str, Any]) -> None:
    owner_sql(settings, update(TABLE).where(_where(tenant, 1)).values(changes={"before": None, "after": {}}))
    result = _verify(settings, "--tenant", "acme")
    assert result.exit_code == 1
    assert "at entry 1: the entry was edited" in result.output


def test_a_deleted_entry_is_reported(settings: Settings, tenant: dict[str, Any]) -> None:
    owner_sql(settings, delete(TABLE).where(_where(tenant, 2)))
    result = _verify(settings)
    assert result.exit_code == 1
    assert "at entry 2: entry 2 is missing (the next one is 3)" in result.output


def test_deleting_the_newest_entry_is_reported(
    settings: Settings, tenant: dict[str, Any], entries: Callable[[str], list[Any]]
) -> None:
    newest = entries(tenant["tenant_id"])[-1].seq
    owner_sql(settings, delete(TABLE).where(_where(tenant, newest)))
    result = _verify(settings)
    assert result.exit_code == 1
    assert f"the chain head records {newest} entries but {newest - 1} remain" in result.output


def test_swapped_entries_are_reported(settings: Settings, tenant: dict[str, Any]) -> None:
    owner_sql(
        settings,
        update(TABLE).where(_where(tenant, 2)).values(seq=-1),
        update(TABLE).where(_where(tenant, 3)).values(seq=2),
        update(TABLE).where(_where(tenant, -1)).values(seq=3),
    )
    result = _verify(settings)
    assert result.exit_code == 1
    assert "at entry 2: the entry does not follow the one before it" in result.output


def test_one_tenant_can_be_verified_alone(
    client: TestClient[Any], settings: Settings, tenant: dict[str, Any]
) -> None:
    beta = signup(client, "Beta")
    owner_sql(settings, delete(TABLE).where(_where(tenant, 2)))
    assert _verify(settings, "--tenant", "acme").exit_code == 1
    alone = _verify(settings, "--tenant", beta["tenant_id"])
    assert alone.exit_code == 0, alone.output
    assert "1 tenant(s)" in alone.output
    unknown = _verify(settings, "--tenant", "no-such-business")
    assert unknown.exit_code != 0
    assert "No tenant 'no-such-business'" in unknown.output
