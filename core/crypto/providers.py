"""Key providers: where master keys live, and how they wrap and unwrap tenant data keys.

A provider never hands a master key out; it only wraps (encrypts) and unwraps (decrypts) the
small per-tenant data keys. Every master key has an id, stored beside each wrapped data key,
so a rotation can tell which data keys are still wrapped under an old master key.

The local provider keeps master keys in a file under the data dir (created on first use with
mode 0600), or takes them from ``HUIKE_MASTER_KEY`` (and, during a rotation,
``HUIKE_MASTER_KEY_PREVIOUS``). A cloud KMS or Vault provider implements the same protocol
(see docs/encryption.md) and is chosen by ``HUIKE_KEY_PROVIDER``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.crypto.errors import DecryptionFailed, MasterKeyUnavailable
from core.kernel.secret import create_secret_file
from core.kernel.settings import Settings, SettingsError

__all__ = ["KeyProvider", "LocalKeyProvider", "WrappedKey", "build_key_provider", "master_key_id"]

KEY_BYTES = 32
NONCE_BYTES = 12


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key encrypted under the master key ``master_key_id``."""

    master_key_id: str
    blob: bytes


class KeyProvider(Protocol):
    """What Huike needs from a master-key holder (local file, env var, KMS, Vault)."""

    def current_key_id(self) -> str:
        """The id of the master key new wraps use."""
        ...

    def wrap(self, key: bytes, context: bytes) -> WrappedKey:
        """Encrypt ``key`` under the current master key, bound to ``context``."""
        ...

    def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes:
        """Decrypt a wrapped key; raises :class:`MasterKeyUnavailable` for an unknown master id."""
        ...

    def begin_rotation(self) -> str:
        """Make a new master key current where the provider can (or resume a rotation under way);
        returns the id of the master key everything is to be re-wrapped under."""
        ...

    def finish_rotation(self) -> list[str]:
        """Every data key is wrapped under the current master key: forget the others where the
        provider can. Returns the ids of master keys the operator should now retire."""
        ...


def master_key_id(key: bytes) -> str:
    """A master key's id: a fingerprint that names the key without revealing it."""
    return "mk-" + hashlib.sha256(b"huike master key id\x00" + key).hexdigest()[:16]


def _decode_key(raw: str, source: str) -> bytes:
    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SettingsError(f"{source}: not base64") from exc
    if len(key) != KEY_BYTES:
        raise SettingsError(f"{source}: a master key is {KEY_BYTES} bytes (base64 of 32 random bytes)")
    return key


class LocalKeyProvider:
    """Master keys held by this process: from ``HUIKE_MASTER_KEY`` or from a key file.

    The key file is JSON ``{"current": id, "keys": {id: base64}}``. It is re-read before every
    wrap and when an unknown master id is met, so a rotation done by ``huike keys rotate-master``
    in another process is seen without a restart.
    """

    def __init__(self, *, path: Path | None = None, env_keys: list[bytes] | None = None) -> None:
        if (path is None) == (env_keys is None):
            raise ValueError("give either a key file path or keys from the environment")
        self.path = path
        self._lock = threading.Lock()
        self._current = ""
        self._keys: dict[str, bytes] = {}
        if env_keys is not None:
            self._keys = {master_key_id(k): k for k in env_keys}
            self._current = master_key_id(env_keys[0])

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalKeyProvider:
        if settings.master_key:
            keys = [_decode_key(settings.master_key, "HUIKE_MASTER_KEY")]
            keys += [_decode_key(k, "HUIKE_MASTER_KEY_PREVIOUS") for k in settings.master_key_previous]
            return cls(env_keys=keys)
        return cls(path=settings.data_path("master.key"))

    # -- the key file ---------------------------------------------------------------------
    def _reload(self) -> None:
        if self.path is None:
            return
        with self._lock:
            if not self.path.exists():
                _create_key_file(self.path)
            data = json.loads(self.path.read_text())
            self._keys = {kid: base64.b64decode(k) for kid, k in data["keys"].items()}
            self._current = data["current"]

    def _write(self, path: Path, current: str, keys: dict[str, bytes]) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(_file_body(current, keys), handle)
        os.replace(tmp, path)
        self._current, self._keys = current, dict(keys)

    # -- the protocol ---------------------------------------------------------------------
    def current_key_id(self) -> str:
        self._reload()
        return self._current

    def wrap(self, key: bytes, context: bytes) -> WrappedKey:
        self._reload()
        nonce = secrets.token_bytes(NONCE_BYTES)
        blob = nonce + AESGCM(self._keys[self._current]).encrypt(nonce, key, context)
        return WrappedKey(self._current, blob)

    def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes:
        if wrapped.master_key_id not in self._keys:
            self._reload()
        master = self._keys.get(wrapped.master_key_id)
        if master is None:
            raise MasterKeyUnavailable(
                f"A data key is wrapped under master key {wrapped.master_key_id}, which this process "
                "does not hold. Restore it (key file, or HUIKE_MASTER_KEY_PREVIOUS) and retry."
            )
        try:
            return AESGCM(master).decrypt(wrapped.blob[:NONCE_BYTES], wrapped.blob[NONCE_BYTES:], context)
        except InvalidTag as exc:
            raise DecryptionFailed("A wrapped data key does not match its tenant or version.") from exc

    def begin_rotation(self) -> str:
        self._reload()
        if self.path is None or len(self._keys) > 1:
            # Env keys: the operator already made the new key current. File: resume.
            return self._current
        key = secrets.token_bytes(KEY_BYTES)
        self._write(self.path, master_key_id(key), {**self._keys, master_key_id(key): key})
        return self._current

    def finish_rotation(self) -> list[str]:
        self._reload()
        retired = sorted(kid for kid in self._keys if kid != self._current)
        if self.path is not None:
            self._write(self.path, self._current, {self._current: self._keys[self._current]})
        return retired


def _create_key_file(path: Path) -> None:
    """A new key file with one random master key, created with mode 0600 (never wider)."""
    key = secrets.token_bytes(KEY_BYTES)
    create_secret_file(path, json.dumps(_file_body(master_key_id(key), {master_key_id(key): key})))


def _file_body(current: str, keys: dict[str, bytes]) -> dict[str, object]:
    return {"current": current, "keys": {kid: base64.b64encode(k).decode() for kid, k in keys.items()}}


def build_key_provider(settings: Settings) -> KeyProvider:
    """The provider named by ``HUIKE_KEY_PROVIDER``. Add a KMS or Vault provider here."""
    if settings.key_provider == "local":
        return LocalKeyProvider.from_settings(settings)
    raise SettingsError(f"HUIKE_KEY_PROVIDER: unknown key provider {settings.key_provider!r}")
