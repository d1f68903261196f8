"""The operator commands: tenants, users, platform admins."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner
from litestar.testing import TestClient

from core.kernel.settings import Settings
from frontend_api.cli import main
from tests.helpers import PASSWORD, login, unique_email


def _env(settings: Settings) -> dict[str, str]:
    return {
        "HUIKE_DATABASE_URL": settings.database_url,
        "HUIKE_MIGRATION_DATABASE_URL": settings.migration_database_url,
        "HUIKE_DATA_DIR": settings.data_dir,
        "HUIKE_NEW_PASSWORD": PASSWORD,
    }


def test_migrate_is_idempotent(settings: Settings) -> None:
    result = CliRunner().invoke(main, ["migrate"], env=_env(settings))
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output


def test_tenants_create_list_and_users_create(settings: Settings, client: TestClient[Any]) -> None:
    runner = CliRunner()
    owner = unique_email("cli-owner")
    created = runner.invoke(
        main,
        ["tenants", "create", "--name", "CLI Foods", "--owner-email", owner, "--owner-name", "Chen"],
        env=_env(settings),
    )
    assert created.exit_code == 0, created.output
    listed = runner.invoke(main, ["tenants", "list", "--search", "cli"], env=_env(settings))
    assert "cli-foods" in listed.output
    clerk = unique_email("clerk")
    added = runner.invoke(
        main,
        [
            "users",
            "create",
            "--tenant",
            "cli-foods",
            "--email",
            clerk,
            "--name",
            "Clerk",
            "--role",
            "warehouse_clerk",
        ],
        env=_env(settings),
    )
    assert added.exit_code == 0, added.output
    tokens = login(client, clerk).json()
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert me["tenant"]["name"] == "CLI Foods"
    assert me["roles"] == ["warehouse_clerk"]


def test_cli_errors_are_messages_not_tracebacks(settings: Settings) -> None:
    result = CliRunner().invoke(
        main,
        ["users", "create", "--tenant", "no-such-tenant", "--email", unique_email(), "--name", "X"],
        env=_env(settings),
    )
    assert result.exit_code == 1
    assert "No tenant 'no-such-tenant'" in result.output
    weak = CliRunner().invoke(
        main,
        ["admin", "create", "--email", unique_email(), "--name", "X"],
        env={**_env(settings), "HUIKE_NEW_PASSWORD": "short"},
    )
    assert weak.exit_code == 1
    assert "Password must be at least 10 characters long" in weak.output


def test_admin_create_makes_a_platform_admin(settings: Settings, client: TestClient[Any]) -> None:
    email = unique_email("ops")
    result = CliRunner().invoke(
        main, ["admin", "create", "--email", email, "--name", "Ops"], env=_env(settings)
    )
    assert result.exit_code == 0, result.output
    response = client.post("/api/platform/auth/token", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201
