"""`huike demo` on a fresh data folder: migrates, seeds, prints a login that works, serves."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

#: Bounds on a hang, not measures: on a loaded 2-core CI machine a start (migrate, seed, four
#: password hashes) takes most of a minute.
START_SECONDS = 180
STOP_SECONDS = 60


def _ctrl_c_works() -> None:
    """Run in the child before it starts: Ctrl-C as a terminal sends it. A test run launched
    in the background inherits SIGINT ignored, and a child that starts so ignores the signal
    until uvicorn installs its own handlers: sent earlier, it was lost and the demo served on."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post(url: str, body: dict[str, str]) -> dict[str, object]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def _get(url: str, token: str) -> dict[str, object]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def _start_demo(data_dir: Path, port: int) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUIKE_")}
    env.update(
        HUIKE_DATA_DIR=str(data_dir),
        HUIKE_DATABASE_URL=f"sqlite+aiosqlite:///{data_dir}/huike.db",
        HUIKE_LOG_LEVEL="WARNING",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "frontend_api.cli", "demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        preexec_fn=_ctrl_c_works,
    )
    assert process.stdout is not None
    printed = ""
    deadline = time.monotonic() + START_SECONDS
    while "Password:" not in printed and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        printed += line
    return process, printed


def _wait_until_serving(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail("huike demo did not start serving")


def test_demo_prints_a_login_that_works(tmp_path: Path) -> None:
    port = _free_port()
    process, printed = _start_demo(tmp_path, port)
    try:
        url = re.search(r"URL:\s+(\S+)", printed)
        email = re.search(r"Email:\s+(\S+)", printed)
        password = re.search(r"Password:\s+(\S+)", printed)
        assert url, printed
        assert email, printed
        assert password, printed
        assert url.group(1) == f"http://127.0.0.1:{port}"
        _wait_until_serving(url.group(1))
        tokens = _post(
            f"{url.group(1)}/api/v1/auth/token", {"email": email.group(1), "password": password.group(1)}
        )
        me = _get(f"{url.group(1)}/api/v1/me", str(tokens["access_token"]))
        assert me["roles"] == ["owner"]
        members = _get(f"{url.group(1)}/api/v1/members", str(tokens["access_token"]))
        assert len(members["items"]) == 4  # type: ignore[arg-type]
        in_pool = _get(f"{url.group(1)}/api/v1/customer-pool?limit=50", str(tokens["access_token"]))
        assert len(in_pool["items"]) == 20  # type: ignore[arg-type]
        rules = _get(f"{url.group(1)}/api/v1/customer-pool/rules", str(tokens["access_token"]))
        assert rules["enabled"] is True
        assert (tmp_path / "huike.db").exists()
        _tour_as_the_sales_manager(url.group(1), password.group(1))
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=STOP_SECONDS)


def _tour_as_the_sales_manager(base: str, password: str) -> None:
    """What the README's tour shows a newcomer signed in as the demo manager."""
    token = str(
        _post(f"{base}/api/v1/auth/token", {"email": "manager@demo.example.com", "password": password})[
            "access_token"
        ]
    )
    customers = _get(f"{base}/api/v1/customers?limit=20", token)
    assert len(customers["items"]) == 20  # type: ignore[arg-type]
    assert _get(f"{base}/api/v1/customer-pool?limit=5", token)["items"]
    pipelines = _get(f"{base}/api/v1/pipelines", token)["items"]
    default = next(p for p in pipelines if p["is_default"])  # type: ignore[union-attr]
    board = _get(f"{base}/api/v1/pipelines/{default['id']}/board", token)
    assert sum(column["count"] for column in board["columns"]) > 0  # type: ignore[union-attr]
    forecast = _get(f"{base}/api/v1/reports/forecast", token)
    assert forecast["by_month"]
    assert forecast["by_owner"]
    funnel = _get(f"{base}/api/v1/reports/funnel?pipeline_id={default['id']}", token)
    assert funnel["cohort"] > 0  # type: ignore[operator]


def test_a_second_demo_start_reuses_the_seeded_tenant(tmp_path: Path) -> None:
    for expected in ("", "(already seeded)"):
        port = _free_port()
        process, printed = _start_demo(tmp_path, port)
        try:
            assert "Password:" in printed, printed
            assert expected in printed
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=STOP_SECONDS)
