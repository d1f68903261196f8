"""Aliyun Short Message Service ``SendSms`` (API version 2017-05-25), signed with Aliyun's
current request signature, V3 ``ACS3-HMAC-SHA256`` (V2's HMAC-SHA1 is discontinued).

A message in mainland China is a pre-approved **template** (``TemplateCode``, e.g.
``SMS_1234``) with **parameters** (``TemplateParam``, a JSON object filling its
``${name}`` slots), sent under an approved **signature** (``SignName``, the 【公司】 prefix).

The request (an RPC-style API: its parameters in the query string, an empty body)::

    POST /?PhoneNumbers=...&SignName=...&TemplateCode=...&TemplateParam=... HTTP/1.1
    Host: dysmsapi.aliyuncs.com
    x-acs-action: SendSms
    x-acs-version: 2017-05-25
    x-acs-date: 2027-01-04T09:00:00Z
    x-acs-signature-nonce: <random, once>
    x-acs-content-sha256: <hex SHA-256 of the body>
    Authorization: ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<names>,Signature=<hex>

with ``Signature = hex(HMAC-SHA256(AccessKeySecret, "ACS3-HMAC-SHA256\\n" +
hex(SHA-256(CanonicalRequest))))`` and ``CanonicalRequest`` the method, ``/``, the query
sorted by name and RFC 3986-encoded, the signed headers (lower-case ``name:value`` lines,
sorted), their names joined by ``;``, and the body's hash, joined by newlines
(:func:`canonical_request`). The answer is JSON: ``{"Code": "OK", "BizId": ...,
"RequestId": ...}``, any other ``Code`` is a failure with its ``Message``.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

import msgspec

from plugins.integration import DEFAULT_TIMEOUT_SECONDS, IntegrationError, request_json

__all__ = [
    "ALGORITHM",
    "DEFAULT_BASE_URL",
    "AliyunSms",
    "SmsError",
    "SmsResult",
    "aliyun_number",
    "canonical_query",
    "canonical_request",
    "percent_encode",
    "signature",
]

DEFAULT_BASE_URL = "https://dysmsapi.aliyuncs.com"
ALGORITHM = "ACS3-HMAC-SHA256"
ACTION = "SendSms"
VERSION = "2017-05-25"
SERVICE = "aliyun_sms"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
#: Codes worth trying again later (flow control of the API itself, the service busy).
RETRYABLE = frozenset(
    {"Throttling", "Throttling.User", "Throttling.Api", "ServiceUnavailable", "InternalError"}
)


class SmsError(IntegrationError):
    """The gateway refused the message (``code`` is Aliyun's: ``isv.MOBILE_NUMBER_ILLEGAL``,
    ``isv.BUSINESS_LIMIT_CONTROL``, ``SignatureDoesNotMatch``...), or could not be reached."""


@dataclass(frozen=True, slots=True)
class SmsResult:
    #: Aliyun's receipt id of the send (to look its delivery report up).
    biz_id: str
    request_id: str


def aliyun_number(phone: str) -> str:
    """A number as ``PhoneNumbers`` wants it: mainland China's bare (``+8613800138000`` →
    ``13800138000``), others with their country code and no ``+`` (``+85251234567`` →
    ``85251234567``). A number already in that form is kept."""
    phone = phone.strip()
    if phone.startswith("+86"):
        return phone[3:]
    return phone.removeprefix("+")


def percent_encode(value: str) -> str:
    """RFC 3986: everything but ``A-Z a-z 0-9 - _ . ~`` as ``%XY`` (a space is ``%20``)."""
    return quote(value, safe="-_.~")


def canonical_query(params: Mapping[str, str]) -> str:
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))


def canonical_request(
    method: str, query: Mapping[str, str], headers: Mapping[str, str], signed: Sequence[str], body_sha256: str
) -> str:
    """The text that is hashed and signed; ``signed`` are the lower-case names of the
    signed headers, sorted."""
    lines = "".join(f"{name}:{headers[name].strip()}\n" for name in signed)
    return "\n".join([method.upper(), "/", canonical_query(query), lines, ";".join(signed), body_sha256])


def signature(secret: str, canonical: str) -> str:
    to_sign = f"{ALGORITHM}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    return hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


class AliyunSms:
    """An Aliyun account's SMS sender under one signature (``sign_name``). ``base_url``
    points elsewhere for tests, another region's endpoint, or a private gateway."""

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        if not (access_key_id.strip() and access_key_secret.strip() and sign_name.strip()):
            raise ValueError("Aliyun SMS needs an AccessKey id, its secret and a signature name")
        self.access_key_id = access_key_id.strip()
        self.access_key_secret = access_key_secret.strip()
        self.sign_name = sign_name.strip()
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds

    async def send(
        self,
        phone_numbers: str | Sequence[str],
        template_code: str,
        params: Mapping[str, str] | None = None,
        *,
        out_id: str | None = None,
    ) -> SmsResult:
        """Send template ``template_code`` filled with ``params`` to one or more numbers
        (mainland numbers bare, others with their country code). ``out_id`` comes back in
        delivery reports (an id of ours, such as the reminder's).

        Raises:
            SmsError: refused (``code`` says why) or unreachable (``retryable``).
        """
        numbers = [phone_numbers] if isinstance(phone_numbers, str) else list(phone_numbers)
        numbers = [n.strip() for n in numbers if n.strip()]
        if not numbers:
            raise ValueError("give at least one phone number")
        query = {
            "PhoneNumbers": ",".join(numbers),
            "SignName": self.sign_name,
            "TemplateCode": template_code,
        }
        if params:
            query["TemplateParam"] = msgspec.json.encode(dict(params)).decode()
        if out_id:
            query["OutId"] = out_id
        status, body = await request_json(
            SERVICE,
            "POST",
            f"{self.base_url}/?{canonical_query(query)}",
            headers=self.signed_headers(query),
            timeout_seconds=self.timeout_seconds,
            error=SmsError,
        )
        code = str(body.get("Code", ""))
        if code != "OK":
            raise SmsError(
                SERVICE,
                code or f"http_{status}",
                str(body.get("Message", "")),
                status_code=status,
                retryable=code in RETRYABLE or status >= 500,
            )
        return SmsResult(biz_id=str(body.get("BizId", "")), request_id=str(body.get("RequestId", "")))

    def signed_headers(
        self, query: Mapping[str, str], *, now: datetime | None = None, nonce: str | None = None
    ) -> dict[str, str]:
        """The headers of a ``SendSms`` request with ``query``, Authorization included."""
        moment = now or datetime.now(UTC)
        headers = {
            "host": urlsplit(self.base_url).netloc,
            "x-acs-action": ACTION,
            "x-acs-version": VERSION,
            "x-acs-date": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
            "x-acs-content-sha256": EMPTY_SHA256,
        }
        signed = sorted(headers)
        canonical = canonical_request("POST", query, headers, signed, EMPTY_SHA256)
        headers["Authorization"] = (
            f"{ALGORITHM} Credential={self.access_key_id},SignedHeaders={';'.join(signed)},"
            f"Signature={signature(self.access_key_secret, canonical)}"
        )
        return headers
