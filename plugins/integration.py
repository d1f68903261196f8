"""What the clients of outside services (chat robots, SMS gateways) share: one JSON-over-HTTP
call with a deadline, and one error type that says which service failed, how, and whether
trying again later can help.

Credentials travel in URLs and headers of these calls: they never appear in an error
message (which may be logged or shown to a tenant admin).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec

from core.kernel.tls import client_tls

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "IntegrationError",
    "RobotResult",
    "request_json",
    "robot_result",
    "truncate_utf8",
]

DEFAULT_TIMEOUT_SECONDS = 10.0


class IntegrationError(Exception):
    """A call to an outside service failed.

    Attributes:
        service: ``wecom``, ``dingtalk``, ``aliyun_sms``...
        code: the service's own error code (``93000``, ``isv.BUSINESS_LIMIT_CONTROL``), or
            ``http_<status>``, ``timeout``, ``network``, ``bad_response``.
        message: the service's message, or ours.
        status_code: the HTTP status, when there was an answer.
        retryable: whether the same call may succeed later (network trouble, 5xx, rate
            limits); a wrong key or template will not.
    """

    def __init__(
        self,
        service: str,
        code: str,
        message: str,
        *,
        status_code: int | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(f"{service}: {code}: {message}")
        self.service = service
        self.code = code
        self.message = message
        self.status_code = status_code
        self.retryable = retryable


async def request_json(
    service: str,
    method: str,
    url: str,
    *,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    json: Any = None,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    error: type[IntegrationError] = IntegrationError,
) -> tuple[int, dict[str, Any]]:
    """Send one request and decode its JSON object answer: ``(status, body)``.

    Raises:
        IntegrationError: (of the class ``error``) timeout, network error, or an answer that
            is not a JSON object (code ``http_<status>`` when the status is not 2xx).
    """
    content = None if json is None else msgspec.json.encode(json)
    sent_headers = dict(headers or {})
    if content is not None:
        sent_headers.setdefault("Content-Type", "application/json; charset=utf-8")
    try:
        async with (
            asyncio.timeout(timeout_seconds),
            httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False, verify=client_tls()) as client,
        ):
            response = await client.request(method, url, params=params, content=content, headers=sent_headers)
    except (TimeoutError, httpx.TimeoutException):
        raise error(service, "timeout", f"no answer within {timeout_seconds:g}s", retryable=True) from None
    except httpx.HTTPError as exc:
        # The exception's text may hold the URL, and with it a key: name only its kind.
        raise error(service, "network", type(exc).__name__, retryable=True) from None
    try:
        body = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        body = None
    if not isinstance(body, dict):
        code = "bad_response" if response.is_success else f"http_{response.status_code}"
        raise error(
            service,
            code,
            f"HTTP {response.status_code} without a JSON object",
            status_code=response.status_code,
            retryable=response.status_code >= 500 or response.status_code == 429,
        )
    return response.status_code, body


def truncate_utf8(text: str, limit: int, ellipsis: str = "…") -> str:
    """``text`` cut to at most ``limit`` bytes of UTF-8 (services count bytes, not
    characters), never inside a character, with ``ellipsis`` when something was cut."""
    if len(text.encode()) <= limit:
        return text
    room = limit - len(ellipsis.encode())
    return text.encode()[: max(room, 0)].decode("utf-8", errors="ignore") + ellipsis


@dataclass(frozen=True, slots=True)
class RobotResult:
    """A chat robot's answer (企业微信 and 钉钉 answer alike)."""

    errcode: int
    errmsg: str


def robot_result(
    service: str,
    status: int,
    body: Mapping[str, Any],
    error: type[IntegrationError],
    retryable: Collection[int],
) -> RobotResult:
    """The ``{"errcode", "errmsg"}`` answer of a chat robot, or ``error`` when it refused."""
    errcode = body.get("errcode")
    errmsg = str(body.get("errmsg", ""))
    if not isinstance(errcode, int):
        raise error(
            service,
            f"http_{status}",
            "the answer has no errcode",
            status_code=status,
            retryable=status >= 500,
        )
    if errcode != 0:
        raise error(service, str(errcode), errmsg, status_code=status, retryable=errcode in retryable)
    return RobotResult(errcode=errcode, errmsg=errmsg)
