"""The 企业微信 group robot protocol.

A group's robot has a webhook ``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY``;
the key is the only credential (treat it as a secret). A message is a JSON POST::

    {"msgtype": "markdown", "markdown": {"content": "..."}}      (at most 4096 bytes)
    {"msgtype": "text", "text": {"content": "...", "mentioned_mobile_list": [...]}}  (2048)

and the answer is ``{"errcode": 0, "errmsg": "ok"}``; any other ``errcode`` is a failure
(``93000``: the key is invalid; ``45009``: more than 20 messages a minute).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from plugins.integration import (
    DEFAULT_TIMEOUT_SECONDS,
    IntegrationError,
    RobotResult,
    request_json,
    robot_result,
    truncate_utf8,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "MARKDOWN_MAX_BYTES",
    "TEXT_MAX_BYTES",
    "RobotResult",
    "WeComError",
    "WeComRobot",
]

DEFAULT_BASE_URL = "https://qyapi.weixin.qq.com"
SEND_PATH = "/cgi-bin/webhook/send"
MARKDOWN_MAX_BYTES = 4096
TEXT_MAX_BYTES = 2048
SERVICE = "wecom"
#: errcodes worth trying again later: rate limits and the service being busy.
RETRYABLE = frozenset({-1, 45009, 45033})


class WeComError(IntegrationError):
    """The robot refused the message, or could not be reached."""


class WeComRobot:
    """One group's robot. ``base_url`` points elsewhere for tests and private deployments."""

    def __init__(
        self, key: str, *, base_url: str = DEFAULT_BASE_URL, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    ) -> None:
        if not key.strip():
            raise ValueError("a WeCom robot needs its webhook key")
        self.key = key.strip()
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds

    @classmethod
    def from_webhook_url(cls, url: str, *, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> WeComRobot:
        """The robot of a webhook URL as WeCom shows it (``.../webhook/send?key=...``)."""
        parts = urlsplit(url.strip())
        keys = parse_qs(parts.query).get("key")
        if parts.scheme not in {"https", "http"} or not parts.netloc or not keys:
            raise ValueError(
                "not a WeCom robot webhook URL (https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...)"
            )
        return cls(keys[0], base_url=f"{parts.scheme}://{parts.netloc}", timeout_seconds=timeout_seconds)

    async def send_markdown(self, content: str) -> RobotResult:
        """Post a markdown message (WeCom's subset: headings, bold, links, quotes, colours)."""
        return await self._send(
            {"msgtype": "markdown", "markdown": {"content": truncate_utf8(content, MARKDOWN_MAX_BYTES)}}
        )

    async def send_text(self, content: str, *, mentioned_mobiles: Sequence[str] = ()) -> RobotResult:
        """Post a plain text message, @-mentioning the members with these mobile numbers
        (``"@all"`` mentions everyone)."""
        text: dict[str, Any] = {"content": truncate_utf8(content, TEXT_MAX_BYTES)}
        if mentioned_mobiles:
            text["mentioned_mobile_list"] = list(mentioned_mobiles)
        return await self._send({"msgtype": "text", "text": text})

    async def _send(self, message: dict[str, Any]) -> RobotResult:
        status, body = await request_json(
            SERVICE,
            "POST",
            self.base_url + SEND_PATH,
            params={"key": self.key},
            json=message,
            timeout_seconds=self.timeout_seconds,
            error=WeComError,
        )
        return robot_result(SERVICE, status, body, WeComError, RETRYABLE)
