"""The ``huike keys`` commands, seen from the API a tenant uses."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner
from litestar.testing import TestClient

from core.kernel.settings import Settings
from frontend_api.cli import main
from tests.frontend_api.test_cli import _env
from tests.helpers import signup, unique_email


def _invite(client: TestClient[Any], owner: dict[str, Any], email: str) -> None:
    roles = client.get("/api/v1/roles?limit=200", headers=owner["headers"]).json()["items"]
    role_id = next(r["id"] for r in roles if r["name"] == "viewer")
    response = client.post(
        "/api/v1/invitations", json={"email": email, "role_id": role_id}, headers=owner["headers"]
    )
    assert response.status_code == 201, response.text


def _invited(client: TestClient[Any], owner: dict[str, Any]) -> Any:
    return client.get("/api/v1/invitations", headers=owner["headers"])


def test_rotations_keep_the_data_readable_and_shredding_ends_it(
    settings: Settings, client: TestClient[Any]
) -> None:
    runner = CliRunner()
    owner = signup(client, "Keys Co")
    emails = sorted(unique_email(f"k{i}") for i in range(3))
    for email in emails:
        _invite(client, owner, email)
    tenant = owner["tenant_id"]

    rotated = runner.invoke(
        main, ["keys", "rotate-tenant", "--tenant", tenant, "--batch-size", "2"], env=_env(settings)
    )
    assert rotated.exit_code == 0, rotated.output
    assert "v1 -> v2: 2 rows (invitations)" in rotated.output
    assert "now uses data key version 2 (3 rows)" in rotated.output
    assert sorted(i["email"] for i in _invited(client, owner).json()["items"]) == emails

    master = runner.invoke(main, ["keys", "rotate-master"], env=_env(settings))
    assert master.exit_code == 0, master.output
    assert "1 re-wrapped" in master.output
    assert sorted(i["email"] for i in _invited(client, owner).json()["items"]) == emails

    kept = runner.invoke(main, ["keys", "shred", "--tenant", tenant], input="n\n", env=_env(settings))
    assert kept.exit_code == 1
    assert _invited(client, owner).status_code == 200

    shredded = runner.invoke(main, ["keys", "shred", "--tenant", tenant, "--yes"], env=_env(settings))
    assert shredded.exit_code == 0, shredded.output
    assert "Destroyed 1 key version(s)" in shredded.output
    response = _invited(client, owner)
    assert response.status_code == 410
    assert response.json()["code"] == "data_keys_shredded"

    provisioned = runner.invoke(main, ["keys", "provision"], env=_env(settings))
    assert provisioned.exit_code == 0, provisioned.output
    assert "Provisioned keys for 0 tenant(s)" in provisioned.output


def test_rotating_an_unknown_tenant_is_a_message(settings: Settings) -> None:
    result = CliRunner().invoke(main, ["keys", "rotate-tenant", "--tenant", "nobody"], env=_env(settings))
    assert result.exit_code == 1
    assert "No tenant 'nobody'" in result.output


def test_a_tenant_rotation_runs_as_a_background_job_with_visible_progress(
    settings: Settings, client: TestClient[Any]
) -> None:
    runner = CliRunner()
    owner = signup(client, "Background Co")
    emails = sorted(unique_email(f"b{i}") for i in range(3))
    for email in emails:
        _invite(client, owner, email)
    tenant = owner["tenant_id"]

    queued = runner.invoke(
        main,
        ["keys", "rotate-tenant", "--tenant", tenant, "--batch-size", "2", "--background"],
        env=_env(settings),
    )
    assert queued.exit_code == 0, queued.output
    assert "queued" in queued.output
    before = runner.invoke(main, ["keys", "status", "--tenant", tenant], env=_env(settings))
    assert "key v1: active" in before.output
    assert "no rotation yet" in before.output

    ran = runner.invoke(main, ["worker", "--burst"], env=_env(settings))
    assert ran.exit_code == 0, ran.output

    after = runner.invoke(main, ["keys", "status", "--tenant", tenant], env=_env(settings))
    assert after.exit_code == 0, after.output
    assert "key v2: active" in after.output
    assert "key v1" not in after.output
    assert "rotation v1 -> v2: done, 3 rows re-encrypted" in after.output
    assert sorted(i["email"] for i in _invited(client, owner).json()["items"]) == emails
