"""The field codec: AES-256-GCM ciphertexts bound to their place, and keyed blind indexes.

A ciphertext is ``0x01 | key version (4 bytes) | nonce (12) | ciphertext and tag``. Its
associated data binds the header, the tenant, the table, the column and the row id, so a value
copied to another row, column or tenant does not decrypt.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.crypto.errors import DecryptionFailed
from core.kernel.errors import Invalid

__all__ = [
    "FORMAT",
    "Place",
    "blind_index",
    "ciphertext_version",
    "decrypt",
    "encrypt",
    "normalize",
]

FORMAT = 1
_HEADER = 5
_NONCE = 12


@dataclass(frozen=True, slots=True)
class Place:
    """Where a value lives: what its ciphertext is bound to."""

    tenant_id: uuid.UUID
    table: str
    column: str
    row_id: uuid.UUID

    def associated_data(self, header: bytes) -> bytes:
        tenant, row = _text(self.tenant_id), _text(self.row_id)
        return header + f"|{tenant}|{self.table}|{self.column}|{row}".encode()


@functools.lru_cache(maxsize=4096)
def _text(value: uuid.UUID) -> str:
    """``str(uuid)``, remembered: a row's fields share its id, and every row its tenant's, and
    formatting a UUID costs more than the AES-GCM of a short value."""
    return str(value)


@functools.lru_cache(maxsize=512)
def _cipher(key: bytes) -> AESGCM:
    """One AES-GCM context per data key: setting up the key schedule for every value of a
    500-row page costs more than decrypting them."""
    return AESGCM(key)


def encrypt(key: bytes, version: int, plaintext: str, place: Place) -> bytes:
    header = bytes([FORMAT]) + version.to_bytes(4, "big")
    nonce = secrets.token_bytes(_NONCE)
    return header + nonce + _cipher(key).encrypt(nonce, plaintext.encode(), place.associated_data(header))


def ciphertext_version(blob: bytes) -> int:
    """The data key version a ciphertext was made with."""
    if len(blob) < _HEADER + _NONCE + 16 or blob[0] != FORMAT:
        raise DecryptionFailed("The stored value is not a Huike ciphertext.")
    return int.from_bytes(blob[1:_HEADER], "big")


def decrypt(key: bytes, blob: bytes, place: Place) -> str:
    ciphertext_version(blob)
    header, nonce, body = blob[:_HEADER], blob[_HEADER : _HEADER + _NONCE], blob[_HEADER + _NONCE :]
    try:
        return _cipher(key).decrypt(nonce, body, place.associated_data(header)).decode()
    except InvalidTag as exc:
        raise DecryptionFailed(
            f"The value of {place.table}.{place.column} for row {place.row_id} does not decrypt: "
            "it was altered or copied from another row or tenant."
        ) from exc


def blind_index(index_key: bytes, table: str, column: str, normalized: str) -> bytes:
    """HMAC-SHA256 of the normalized value, scoped to its column."""
    return hmac.new(index_key, f"{table}.{column}\x00{normalized}".encode(), hashlib.sha256).digest()


def _email(value: str, region: str, field: str) -> str:
    return value.strip().lower()


@functools.lru_cache(maxsize=65536)
def _e164(value: str, region: str) -> str | None:
    """``value`` in E.164, or None when it is not a phone number. Remembered: one number is
    normalized on write, again for its blind index, and for each duplicate lookup (an import
    does that for thousands of rows), and parsing costs far more than the AES of it."""
    try:
        number = phonenumbers.parse(value, region.upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _phone(value: str, region: str, field: str) -> str:
    normalized = _e164(value, region)
    if normalized is None:
        raise Invalid("This is not a phone number.", field=field, code="invalid_phone")
    return normalized


def _exact(value: str, region: str, field: str) -> str:
    return value.strip()


NORMALIZERS: dict[str, Callable[[str, str, str], str]] = {"email": _email, "phone": _phone, "exact": _exact}


def normalize(kind: str, value: str, *, region: str, field: str) -> str:
    """Bring a value to the form its blind index is taken of (``email``, ``phone``, ``exact``)."""
    return NORMALIZERS[kind](value, region, field)
