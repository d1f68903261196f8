"""Structured JSON logs carry the request id and tenant id, and no personal data."""

from __future__ import annotations

import dataclasses
import json

import pytest
from litestar.testing import TestClient

from core.kernel.settings import Settings
from frontend_api.app import create_app
from tests.helpers import login, signup


def test_log_lines_are_json_with_request_and_tenant_ids_and_no_personal_data(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    verbose = dataclasses.replace(settings, log_json=True, log_level="INFO")
    with TestClient(create_app(verbose)) as client:
        owner = signup(client, "Logged Co")
        login(client, owner["email"], "a wrong password")
        me = client.get("/api/v1/me", headers=owner["headers"])
    output = capsys.readouterr().err
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "huike.access"]
    assert len(access) >= 3
    me_line = next(line for line in access if line["path"] == "/api/v1/me")
    assert me_line["request_id"] == me.headers["x-request-id"]
    assert me_line["tenant_id"] == owner["tenant_id"]
    assert me_line["status"] == 200
    assert owner["email"] not in output
    assert "a wrong password" not in output
