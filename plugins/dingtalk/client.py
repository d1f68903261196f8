"""The 钉钉 custom robot protocol, with its "加签" (signature) security setting.

A robot has a webhook ``https://oapi.dingtalk.com/robot/send?access_token=TOKEN`` and, when
signing is on, a secret ``SEC...``. Each message is a JSON POST to::

    /robot/send?access_token=TOKEN&timestamp=T&sign=S

where ``T`` is the current time in milliseconds (DingTalk refuses one more than an hour
off) and ``S = urlencode(base64(HMAC-SHA256(key=secret, msg=f"{T}\\n{secret}")))`` — the
query-string encoding is the "urlencode". Bodies::

    {"msgtype": "markdown", "markdown": {"title": "...", "text": "..."}, "at": {...}}
    {"msgtype": "text", "text": {"content": "..."}, "at": {...}}

The answer is ``{"errcode": 0, "errmsg": "ok"}``; any other ``errcode`` is a failure
(``310000``: the signature, a keyword or the IP allow-list did not match; ``300001``: the
token is invalid; ``130101``: more than 20 messages a minute).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
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

__all__ = ["DEFAULT_BASE_URL", "DingTalkError", "DingTalkRobot", "RobotResult", "sign"]

DEFAULT_BASE_URL = "https://oapi.dingtalk.com"
SEND_PATH = "/robot/send"
#: DingTalk's limit on a message's text (bytes of UTF-8).
TEXT_MAX_BYTES = 20000
SERVICE = "dingtalk"
RETRYABLE = frozenset({-1, 130101, 130102})


class DingTalkError(IntegrationError):
    """The robot refused the message, or could not be reached."""


def sign(secret: str, timestamp_ms: int) -> str:
    """``base64(HMAC-SHA256(secret, f"{timestamp_ms}\\n{secret}"))``, before URL encoding."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class DingTalkRobot:
    """One group's robot; ``secret`` is its 加签 secret (None if signing is off, which
    DingTalk allows only with a keyword or IP allow-list)."""

    def __init__(
        self,
        access_token: str,
        secret: str | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        if not access_token.strip():
            raise ValueError("a DingTalk robot needs its access token")
        self.access_token = access_token.strip()
        self.secret = secret.strip() if secret else None
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds

    @classmethod
    def from_webhook_url(
        cls, url: str, secret: str | None = None, *, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    ) -> DingTalkRobot:
        """The robot of a webhook URL as DingTalk shows it (``.../robot/send?access_token=...``)."""
        parts = urlsplit(url.strip())
        tokens = parse_qs(parts.query).get("access_token")
        if parts.scheme not in {"https", "http"} or not parts.netloc or not tokens:
            raise ValueError(
                "not a DingTalk robot webhook URL (https://oapi.dingtalk.com/robot/send?access_token=...)"
            )
        return cls(
            tokens[0], secret, base_url=f"{parts.scheme}://{parts.netloc}", timeout_seconds=timeout_seconds
        )

    async def send_markdown(
        self, title: str, text: str, *, at_mobiles: Sequence[str] = (), at_all: bool = False
    ) -> RobotResult:
        """Post a markdown message; ``title`` is what the notification preview shows."""
        return await self._send(
            {
                "msgtype": "markdown",
                "markdown": {"title": title, "text": truncate_utf8(text, TEXT_MAX_BYTES)},
            },
            at_mobiles,
            at_all,
        )

    async def send_text(
        self, content: str, *, at_mobiles: Sequence[str] = (), at_all: bool = False
    ) -> RobotResult:
        return await self._send(
            {"msgtype": "text", "text": {"content": truncate_utf8(content, TEXT_MAX_BYTES)}},
            at_mobiles,
            at_all,
        )

    def _params(self, timestamp_ms: int | None = None) -> dict[str, str]:
        params = {"access_token": self.access_token}
        if self.secret:
            now = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
            params.update(timestamp=str(now), sign=sign(self.secret, now))
        return params

    async def _send(self, message: dict[str, Any], at_mobiles: Sequence[str], at_all: bool) -> RobotResult:
        if at_mobiles or at_all:
            message["at"] = {"atMobiles": list(at_mobiles), "isAtAll": at_all}
        status, body = await request_json(
            SERVICE,
            "POST",
            self.base_url + SEND_PATH,
            params=self._params(),
            json=message,
            timeout_seconds=self.timeout_seconds,
            error=DingTalkError,
        )
        return robot_result(SERVICE, status, body, DingTalkError, RETRYABLE)
