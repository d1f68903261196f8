"""The 企业微信 robot client against a local server that speaks the robot protocol."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest

from plugins.wecom.client import MARKDOWN_MAX_BYTES, WeComError, WeComRobot
from tests.http_server import HTTPServer, Received, Reply, running

pytestmark = pytest.mark.anyio

KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"


def _answer(errcode: int, errmsg: str) -> Reply:
    return Reply(
        200,
        msgspec.json.encode({"errcode": errcode, "errmsg": errmsg}),
        headers={"Content-Type": "application/json"},
    )


def wecom(request: Received) -> Reply:
    """What qyapi.weixin.qq.com answers (errcodes as documented)."""
    if request.method != "POST" or request.path != "/cgi-bin/webhook/send":
        return Reply(404, b"not found")
    if request.query.get("key") != [KEY]:
        return _answer(93000, "invalid webhook url, hint: [1767517200_xx], from ip: 127.0.0.1")
    try:
        message = msgspec.json.decode(request.body)
        kind = message["msgtype"]
        content = message[kind]["content"]
    except (msgspec.DecodeError, KeyError, TypeError):
        return _answer(40008, "invalid message type")
    if kind not in {"markdown", "text"}:
        return _answer(40008, "invalid message type")
    limit = 4096 if kind == "markdown" else 2048
    if len(content.encode()) > limit:
        return _answer(40058, f"markdown.content exceed max length {limit}")
    return _answer(0, "ok")


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    with running(wecom) as http:
        yield http


async def test_a_markdown_message_reaches_the_group(server: HTTPServer) -> None:
    robot = WeComRobot(KEY, base_url=server.url(""))

    result = await robot.send_markdown("### 新客户\n\n新客户：**华为**")

    assert (result.errcode, result.errmsg) == (0, "ok")
    [request] = server.received
    assert request.header(
        "Content-Type",
    ).startswith("application/json")  # type: ignore[union-attr]
    assert msgspec.json.decode(request.body) == {
        "msgtype": "markdown",
        "markdown": {"content": "### 新客户\n\n新客户：**华为**"},
    }


async def test_a_text_message_mentions_by_mobile(server: HTTPServer) -> None:
    robot = WeComRobot.from_webhook_url(f"{server.url('/cgi-bin/webhook/send')}?key={KEY}")

    await robot.send_text("赢单！", mentioned_mobiles=["13800001111"])

    assert msgspec.json.decode(server.received[0].body) == {
        "msgtype": "text",
        "text": {"content": "赢单！", "mentioned_mobile_list": ["13800001111"]},
    }


async def test_a_non_zero_errcode_is_a_failure_with_its_message(server: HTTPServer) -> None:
    robot = WeComRobot("wrong-key", base_url=server.url(""))

    with pytest.raises(WeComError) as failed:
        await robot.send_markdown("hello")

    assert failed.value.code == "93000"
    assert failed.value.message.startswith("invalid webhook url")
    assert failed.value.retryable is False
    assert "wrong-key" not in str(failed.value)


async def test_a_long_message_is_cut_to_the_protocols_limit_on_a_character_boundary(
    server: HTTPServer,
) -> None:
    robot = WeComRobot(KEY, base_url=server.url(""))

    await robot.send_markdown("客" * 3000)  # 9000 bytes of UTF-8

    content = msgspec.json.decode(server.received[0].body)["markdown"]["content"]
    assert len(content.encode()) <= MARKDOWN_MAX_BYTES
    assert content.endswith("…")


async def test_a_rate_limit_is_retryable_and_a_dead_server_is_a_network_error() -> None:
    with running(lambda _: _answer(45009, "api freq out of limit")) as limited:
        with pytest.raises(WeComError) as throttled:
            await WeComRobot(KEY, base_url=limited.url("")).send_text("hi")
        port = limited.port
    with pytest.raises(WeComError) as unreachable:
        await WeComRobot(KEY, base_url=f"http://127.0.0.1:{port}").send_text("hi")

    assert (throttled.value.code, throttled.value.retryable) == ("45009", True)
    assert (unreachable.value.code, unreachable.value.retryable) == ("network", True)
    assert KEY not in str(unreachable.value)


async def test_a_slow_robot_times_out() -> None:
    with running(lambda _: Reply(200, b"{}", delay=1.0)) as slow, pytest.raises(WeComError) as failed:
        await WeComRobot(KEY, base_url=slow.url(""), timeout_seconds=0.2).send_text("hi")

    assert (failed.value.code, failed.value.retryable) == ("timeout", True)


def test_a_webhook_url_without_a_key_is_refused() -> None:
    with pytest.raises(ValueError, match="WeCom"):
        WeComRobot.from_webhook_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send")
