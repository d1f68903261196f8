"""The 钉钉 robot client against a local server that checks the 加签 signature as DingTalk
does."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterator

import msgspec
import pytest

from plugins.dingtalk.client import DingTalkError, DingTalkRobot, sign
from tests.http_server import HTTPServer, Received, Reply, running

pytestmark = pytest.mark.anyio

TOKEN = "b1f0e2c3d4"
SECRET = "SEC1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c0b1a2f3e4d5c6b7a8f9e0d1c2"


def _answer(errcode: int, errmsg: str) -> Reply:
    return Reply(
        200,
        msgspec.json.encode({"errcode": errcode, "errmsg": errmsg}),
        headers={"Content-Type": "application/json"},
    )


def dingtalk(request: Received) -> Reply:
    """What oapi.dingtalk.com answers for a robot with signing on."""
    if request.method != "POST" or request.path != "/robot/send":
        return Reply(404, b"not found")
    if request.query.get("access_token") != [TOKEN]:
        return _answer(300001, "token is not exist")
    [timestamp] = request.query.get("timestamp", [""])
    [signature] = request.query.get("sign", [""])  # already URL-decoded, as DingTalk reads it
    if not timestamp.isdigit() or abs(time.time() * 1000 - int(timestamp)) > 3600 * 1000:
        return _answer(310000, "invalid timestamp")
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(), hashlib.sha256).digest()
    ).decode()
    if not hmac.compare_digest(signature, expected):
        return _answer(310000, "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]")
    message = msgspec.json.decode(request.body)
    if message.get("msgtype") == "markdown" and not (
        message["markdown"].get("title") and message["markdown"].get("text")
    ):
        return _answer(300005, "markdown title or text is empty")
    return _answer(0, "ok")


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    with running(dingtalk) as http:
        yield http


def test_the_signature_is_base64_of_hmac_sha256_over_timestamp_newline_secret() -> None:
    digest = hmac.new(b"secret", b"1700000000000\nsecret", hashlib.sha256).digest()

    assert sign("secret", 1700000000000) == base64.b64encode(digest).decode()


async def test_a_signed_markdown_message_reaches_the_group(server: HTTPServer) -> None:
    robot = DingTalkRobot(TOKEN, SECRET, base_url=server.url(""))

    result = await robot.send_markdown(
        "赢单", "### 赢单\n\n赢单：**年度框架合同**", at_mobiles=["13800001111"]
    )

    assert result.errcode == 0
    [request] = server.received
    assert msgspec.json.decode(request.body) == {
        "msgtype": "markdown",
        "markdown": {"title": "赢单", "text": "### 赢单\n\n赢单：**年度框架合同**"},
        "at": {"atMobiles": ["13800001111"], "isAtAll": False},
    }


async def test_the_sign_survives_url_encoding_whatever_characters_it_holds(server: HTTPServer) -> None:
    robot = DingTalkRobot.from_webhook_url(f"{server.url('/robot/send')}?access_token={TOKEN}", SECRET)

    # Enough messages that some signatures contain +, / and =, which must be URL-encoded.
    for _ in range(30):
        await robot.send_text("ping")

    signs = [r.query["sign"][0] for r in server.received]
    assert any("+" in s or "/" in s for s in signs)


async def test_a_wrong_secret_is_refused_with_dingtalks_message(server: HTTPServer) -> None:
    robot = DingTalkRobot(TOKEN, "SECwrong", base_url=server.url(""))

    with pytest.raises(DingTalkError) as failed:
        await robot.send_text("hello")

    assert failed.value.code == "310000"
    assert failed.value.message.startswith("sign not match")
    assert failed.value.retryable is False
    assert "SECwrong" not in str(failed.value)


async def test_an_unknown_token_is_refused(server: HTTPServer) -> None:
    with pytest.raises(DingTalkError) as failed:
        await DingTalkRobot("nope", SECRET, base_url=server.url("")).send_text("hello")

    assert (failed.value.code, failed.value.message) == ("300001", "token is not exist")


async def test_an_answer_that_is_not_json_is_an_error_naming_the_status() -> None:
    with (
        running(lambda _: Reply(502, b"<html>Bad Gateway</html>")) as broken,
        pytest.raises(DingTalkError) as failed,
    ):
        await DingTalkRobot(TOKEN, SECRET, base_url=broken.url("")).send_text("hello")

    assert (failed.value.code, failed.value.status_code, failed.value.retryable) == ("http_502", 502, True)
