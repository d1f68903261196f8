"""The core's text-message seam: Huike has no gateway of its own, so its default sends nothing
and says so; a text travels sealed to the job that sends it."""

from __future__ import annotations

import dataclasses

import pytest

from core.kernel.settings import Settings
from core.sms import NoTextMessenger, TextMessage
from core.sms.jobs import open_sealed, seal

pytestmark = pytest.mark.anyio

REMINDER = TextMessage(
    to="+8613800138000",
    purpose="activity.reminder",
    params={"subject": "Call Globex", "time": "1月2日 09:30"},
    language="zh-CN",
)


async def test_without_a_provider_a_text_is_reported_not_sent() -> None:
    assert await NoTextMessenger().send(REMINDER) is None


def test_a_sealed_text_hides_the_number_and_opens_only_with_the_same_secret(settings: Settings) -> None:
    sealed = seal(settings, REMINDER)
    assert "13800138000" not in sealed
    assert open_sealed(settings, sealed) == REMINDER
    other = dataclasses.replace(settings, secret_key="another-installation-secret-key-0123456789")
    with pytest.raises(ValueError, match="does not open"):
        open_sealed(other, sealed)
