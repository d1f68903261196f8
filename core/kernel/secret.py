"""The application secret: signs tokens and seals job payloads that carry secrets; and the one
safe way to create a secret file."""

from __future__ import annotations

import base64
import functools
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.kernel.settings import Settings

__all__ = ["app_secret", "create_secret_file", "open_payload", "seal_payload"]


def app_secret(settings: Settings) -> str:
    """``HUIKE_SECRET_KEY``, or the key file ``data_dir/secret.key`` created (mode 0600) on
    first use. Every process of one installation (web, workers) must see the same one."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_path("secret.key")
    if not path.exists():
        create_secret_file(path, secrets.token_urlsafe(48))
    return path.read_text().strip()


def create_secret_file(path: Path, content: str) -> None:
    """Create ``path`` holding ``content`` with mode 0600 (never wider). It appears whole or
    not at all: when processes race on a fresh install, the first one wins and every one of
    them then reads the same content (never a half-written or empty file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


@functools.cache
def _cipher(secret: str, purpose: bytes) -> AESGCM:
    """Derived once per secret and purpose, not for every payload."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret.encode())
    return AESGCM(key)


def seal_payload(settings: Settings, purpose: bytes, plain: bytes) -> str:
    """``plain`` as AES-GCM ciphertext (URL-safe base64) under a key derived from the
    application secret for ``purpose`` (``b"huike mail payload v1"``): for job payloads that
    carry secrets or personal data through the outbox, the broker and the dead letters."""
    nonce = os.urandom(12)
    sealed = _cipher(app_secret(settings), purpose).encrypt(nonce, plain, purpose)
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def open_payload(settings: Settings, purpose: bytes, sealed: str) -> bytes:
    """Raises ValueError when the payload was sealed under another secret or purpose, or altered."""
    raw = base64.urlsafe_b64decode(sealed.encode())
    try:
        return _cipher(app_secret(settings), purpose).decrypt(raw[:12], raw[12:], purpose)
    except InvalidTag as exc:
        raise ValueError("the sealed payload does not open with this installation's secret") from exc
