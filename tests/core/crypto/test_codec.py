"""The codec alone: AES-GCM bound to its place, key versions, blind indexes, normalizers."""

from __future__ import annotations

import secrets

import pytest

from core.crypto.codec import Place, blind_index, ciphertext_version, decrypt, encrypt, normalize
from core.crypto.errors import DecryptionFailed
from core.kernel.errors import Invalid
from core.kernel.ids import new_id

KEY = secrets.token_bytes(32)


def _place(**changes: object) -> Place:
    values: dict[str, object] = {
        "tenant_id": TENANT,
        "table": "customers",
        "column": "phone",
        "row_id": ROW,
        **changes,
    }
    return Place(**values)  # type: ignore[arg-type]


TENANT = new_id()
ROW = new_id()


def test_a_value_round_trips_and_carries_its_key_version() -> None:
    blob = encrypt(KEY, 7, "李雷 +86 138 0013 8000", _place())
    assert b"138" not in blob
    assert ciphertext_version(blob) == 7
    assert decrypt(KEY, blob, _place()) == "李雷 +86 138 0013 8000"


def test_the_same_value_encrypts_differently_each_time() -> None:
    assert encrypt(KEY, 1, "same", _place()) != encrypt(KEY, 1, "same", _place())


@pytest.mark.parametrize(
    "elsewhere",
    [
        {"tenant_id": new_id()},
        {"table": "suppliers"},
        {"column": "email"},
        {"row_id": new_id()},
    ],
)
def test_a_ciphertext_does_not_open_anywhere_else(elsewhere: dict[str, object]) -> None:
    blob = encrypt(KEY, 1, "secret", _place())
    with pytest.raises(DecryptionFailed):
        decrypt(KEY, blob, _place(**elsewhere))


def test_a_tampered_header_or_body_or_wrong_key_is_refused() -> None:
    blob = encrypt(KEY, 1, "secret", _place())
    with pytest.raises(DecryptionFailed):
        decrypt(KEY, blob[:1] + (2).to_bytes(4, "big") + blob[5:], _place())
    with pytest.raises(DecryptionFailed):
        decrypt(KEY, blob[:-1] + bytes([blob[-1] ^ 1]), _place())
    with pytest.raises(DecryptionFailed):
        decrypt(secrets.token_bytes(32), blob, _place())
    with pytest.raises(DecryptionFailed):
        decrypt(KEY, b"plain text", _place())


def test_emails_are_indexed_lower_cased_and_stripped() -> None:
    def index(value: str) -> bytes:
        return blind_index(KEY, "t", "email", normalize("email", value, region="CN", field="email"))

    assert index("  Alice@Example.COM ") == index("alice@example.com")
    assert index("alice@example.com") != index("bob@example.com")
    assert blind_index(secrets.token_bytes(32), "t", "email", "alice@example.com") != index(
        "alice@example.com"
    )


def test_phone_numbers_are_indexed_in_e164_with_the_default_region() -> None:
    assert normalize("phone", "138 0013 8000", region="CN", field="phone") == "+8613800138000"
    assert normalize("phone", "+86 138-0013-8000", region="CN", field="phone") == "+8613800138000"
    assert normalize("phone", "(415) 555-0100", region="US", field="phone") == "+14155550100"


def test_a_string_that_is_no_phone_number_is_invalid_input() -> None:
    with pytest.raises(Invalid) as caught:
        normalize("phone", "call me maybe", region="CN", field="phone")
    assert caught.value.code == "invalid_phone"
    assert caught.value.errors[0].field == "phone"
