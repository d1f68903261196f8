"""Errors of field encryption and key management."""

from __future__ import annotations

from core.kernel.errors import DomainError

__all__ = ["DecryptionFailed", "KeysMissing", "KeysShredded", "MasterKeyUnavailable"]


class KeysShredded(DomainError):
    """The tenant's data keys were destroyed: its encrypted values can never be read again."""

    status = 410
    code = "data_keys_shredded"
    title = "Data keys destroyed"


class KeysMissing(DomainError):
    """The tenant has no data key yet (created before encryption was introduced)."""

    status = 503
    code = "data_keys_missing"
    title = "Data keys missing"


class DecryptionFailed(RuntimeError):
    """A stored ciphertext does not decrypt for the row, column and tenant it sits in: it was
    altered, or copied from another row or tenant. Never answered with a guess."""


class MasterKeyUnavailable(DomainError):
    """A data key is wrapped under a master key the key provider does not hold: an outage the
    operator fixes (HUIKE_MASTER_KEY_PREVIOUS), answered as one, not as a crash."""

    status = 503
    code = "master_key_unavailable"
    title = "Master key unavailable"
