"""The Aliyun SMS client against a local gateway that checks the ACS3-HMAC-SHA256 signature
the way Aliyun's API gateway does (written here on its own, not with the client's code)."""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import msgspec
import pytest

from plugins.sms.client import AliyunSms, SmsError
from tests.http_server import HTTPServer, Received, Reply, running

pytestmark = pytest.mark.anyio

KEY_ID = "LTAI5tExampleKeyId"
KEY_SECRET = "exampleSecretOfTheAccessKey0123"
SIGN_NAME = "慧客"
#: The account's approved templates and their slots (``SMS_465002``: Huike's task reminder).
TEMPLATES = {"SMS_465001": {"name", "time"}, "SMS_465002": {"subject", "time"}}
_AUTH = re.compile(r"^ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]{64})$")


def _json(status: int, body: dict[str, str]) -> Reply:
    return Reply(
        status, msgspec.json.encode(body), headers={"Content-Type": "application/json;charset=utf-8"}
    )


def _error(status: int, code: str, message: str) -> Reply:
    return _json(status, {"RequestId": "0A1B2C3D", "Code": code, "Message": message})


class Gateway:
    """dysmsapi.aliyuncs.com: authenticates the request, then checks the SendSms fields."""

    def __init__(self) -> None:
        self.nonces: set[str] = set()
        self.lock = threading.Lock()
        self.sent: list[dict[str, str]] = []

    def __call__(self, request: Received) -> Reply:
        refused = self._authenticate(request)
        if refused is not None:
            return refused
        params = {k: v[0] for k, v in request.query.items()}
        if params.get("SignName") != SIGN_NAME:
            return _error(200, "isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        wanted = TEMPLATES.get(params.get("TemplateCode", ""))
        if wanted is None:
            return _error(200, "isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        values = msgspec.json.decode(params.get("TemplateParam", "{}"))
        if set(values) != wanted:
            return _error(200, "isv.TEMPLATE_PARAMS_ILLEGAL", "模版变量里包含非法关键字")
        if not all(re.fullmatch(r"1\d{10}", n) for n in params.get("PhoneNumbers", "").split(",")):
            return _error(200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        self.sent.append(params)
        return _json(
            200,
            {
                "RequestId": "F655A8D5-B967-440B-8683-DAD6FF8DE990",
                "Code": "OK",
                "Message": "OK",
                "BizId": "9006197469364984400",
            },
        )

    def _authenticate(self, request: Received) -> Reply | None:
        match = _AUTH.match(request.header("Authorization") or "")
        if match is None:
            return _error(
                400, "IncompleteSignature", "The request signature does not conform to Aliyun standards."
            )
        key_id, signed_names, given = match.groups()
        if key_id != KEY_ID:
            return _error(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        signed = signed_names.split(";")
        if signed != sorted(signed) or not {
            "host",
            "x-acs-action",
            "x-acs-version",
            "x-acs-date",
            "x-acs-signature-nonce",
            "x-acs-content-sha256",
        } <= set(signed):
            return _error(
                400, "IncompleteSignature", "SignedHeaders must list host and every x-acs- header, sorted."
            )
        if (request.header("x-acs-action"), request.header("x-acs-version")) != ("SendSms", "2017-05-25"):
            return _error(400, "InvalidAction.NotFound", "Specified api is not found.")
        body_hash = hashlib.sha256(request.body).hexdigest()
        if request.header("x-acs-content-sha256") != body_hash:
            return _error(400, "SignatureDoesNotMatch", "The payload hash does not match the body.")
        stamped = datetime.strptime(request.header("x-acs-date") or "", "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=UTC
        )
        if abs(datetime.now(UTC) - stamped) > timedelta(minutes=15):
            return _error(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        with self.lock:
            nonce = request.header("x-acs-signature-nonce") or ""
            if nonce in self.nonces:
                return _error(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
            self.nonces.add(nonce)

        def encode(value: str) -> str:
            return quote(value, safe="-_.~")

        query = "&".join(f"{encode(k)}={encode(v[0])}" for k, v in sorted(request.query.items()))
        headers = "".join(f"{name}:{(request.header(name) or '').strip()}\n" for name in signed)
        canonical = "\n".join([request.method, request.path, query, headers, signed_names, body_hash])
        to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
        expected = hmac.new(KEY_SECRET.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given, expected):
            return _error(400, "SignatureDoesNotMatch", "Specified signature does not match our calculation.")
        return None


@pytest.fixture
def gateway() -> Gateway:
    return Gateway()


@pytest.fixture
def server(gateway: Gateway) -> Iterator[HTTPServer]:
    with running(gateway) as http:
        yield http


def _sms(server: HTTPServer, secret: str = KEY_SECRET) -> AliyunSms:
    return AliyunSms(KEY_ID, secret, SIGN_NAME, base_url=server.url(""))


async def test_a_template_message_is_sent_with_a_valid_signature(
    server: HTTPServer, gateway: Gateway
) -> None:
    result = await _sms(server).send(
        "13800001111", "SMS_465001", {"name": "王经理 & Co", "time": "明天 10:00"}, out_id="task-42"
    )

    assert result.biz_id == "9006197469364984400"
    assert result.request_id == "F655A8D5-B967-440B-8683-DAD6FF8DE990"
    [sent] = gateway.sent
    assert sent["PhoneNumbers"] == "13800001111"
    assert sent["OutId"] == "task-42"
    assert msgspec.json.decode(sent["TemplateParam"]) == {"name": "王经理 & Co", "time": "明天 10:00"}
    assert server.received[0].body == b""


async def test_each_request_has_its_own_nonce(server: HTTPServer, gateway: Gateway) -> None:
    sms = _sms(server)

    for _ in range(3):
        await sms.send(["13800001111", "13900002222"], "SMS_465001", {"name": "a", "time": "b"})

    assert len(gateway.nonces) == 3
    assert gateway.sent[0]["PhoneNumbers"] == "13800001111,13900002222"


async def test_a_wrong_secret_fails_the_gateways_signature_check(server: HTTPServer) -> None:
    with pytest.raises(SmsError) as failed:
        await _sms(server, secret="not-the-secret").send(
            "13800001111", "SMS_465001", {"name": "a", "time": "b"}
        )

    assert (failed.value.code, failed.value.status_code) == ("SignatureDoesNotMatch", 400)
    assert failed.value.retryable is False
    assert "not-the-secret" not in str(failed.value)


async def test_a_refused_send_carries_aliyuns_code_and_message(server: HTTPServer) -> None:
    with pytest.raises(SmsError) as bad_number:
        await _sms(server).send("12345", "SMS_465001", {"name": "a", "time": "b"})
    with pytest.raises(SmsError) as bad_params:
        await _sms(server).send("13800001111", "SMS_465001", {"name": "a"})

    assert (bad_number.value.code, bad_number.value.message) == ("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
    assert bad_params.value.code == "isv.TEMPLATE_PARAMS_ILLEGAL"


async def test_throttling_is_retryable() -> None:
    with (
        running(
            lambda _: _error(400, "Throttling.User", "Request was denied due to user flow control.")
        ) as busy,
        pytest.raises(SmsError) as failed,
    ):
        await _sms(busy).send("13800001111", "SMS_465001", {"name": "a", "time": "b"})

    assert (failed.value.code, failed.value.retryable) == ("Throttling.User", True)
