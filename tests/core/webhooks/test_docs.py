"""The verification snippets of docs/plugins/webhooks.md, run against a real delivery, so the
page a receiver copies from cannot drift from what Huike sends."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from core.jobs.runtime import JobRuntime
from core.kernel.database import Database
from core.kernel.settings import Settings
from tests.core.crypto.factories import Shop
from tests.core.webhooks.conftest import add_endpoint, emit
from tests.http_server import HTTPServer, Received

pytestmark = pytest.mark.anyio

DOC = Path(__file__).resolve().parents[3] / "docs" / "plugins" / "webhooks.md"


def snippet(name: str) -> str:
    match = re.search(rf"<!-- snippet: {name} -->\s*```\w+\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert match, f"docs/plugins/webhooks.md has no snippet {name!r}"
    return match.group(1)


async def _signed_delivery(
    db: Database, settings: Settings, runtime: JobRuntime, receiver: HTTPServer, shop: Shop
) -> tuple[str, Received]:
    endpoint = await add_endpoint(db, settings, shop.tenant_id, receiver.url("/hook"))
    await emit(db, shop.tenant_id, "opportunities.won", {"amount": "1200.00", "currency": "CNY", "名": "王"})
    await runtime.drain()
    [request] = receiver.received
    return endpoint.secret, request


async def test_the_python_snippet_verifies_a_real_delivery(
    db: Database, hook_settings: Settings, runtime: JobRuntime, receiver: HTTPServer, shop: Shop
) -> None:
    secret, request = await _signed_delivery(db, hook_settings, runtime, receiver, shop)
    namespace: dict[str, Any] = {}
    exec(compile(snippet("verify-python"), str(DOC), "exec"), namespace)  # noqa: S102 - our own doc
    verify = namespace["verify_huike_signature"]
    header = request.header("Huike-Signature")

    assert verify(secret, header, request.body) is True
    assert verify(secret, header, request.body.replace(b"1200.00", b"9999.00")) is False
    assert verify("whsec_wrong", header, request.body) is False
    assert verify(secret, header, request.body, tolerance=-1) is False


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
async def test_the_node_snippet_verifies_a_real_delivery(
    db: Database,
    hook_settings: Settings,
    runtime: JobRuntime,
    receiver: HTTPServer,
    shop: Shop,
    tmp_path: Path,
) -> None:
    secret, request = await _signed_delivery(db, hook_settings, runtime, receiver, shop)
    script = tmp_path / "verify.js"
    script.write_text(
        snippet("verify-node")
        + "\nconst body = Buffer.from(process.env.BODY_B64, 'base64');\n"
        + "console.log(JSON.stringify([\n"
        + "  verifyHuikeSignature(process.env.SECRET, process.env.HEADER, body),\n"
        + "  verifyHuikeSignature(process.env.SECRET, process.env.HEADER, Buffer.concat([body, body])),\n"
        + "  verifyHuikeSignature('whsec_wrong', process.env.HEADER, body),\n"
        + "]));\n"
    )
    env = {
        **os.environ,
        "SECRET": secret,
        "HEADER": request.header("Huike-Signature") or "",
        "BODY_B64": base64.b64encode(request.body).decode(),
    }

    result = await asyncio.to_thread(
        subprocess.run,  # a fixed script we wrote, no shell
        [shutil.which("node") or "node", str(script)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=30,
    )

    assert result.stdout.strip() == "[true,false,false]"
