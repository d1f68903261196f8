"""The application secret: signs tokens and seals job payloads that carry secrets; and the one
safe way to create a secret file."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from core.kernel.settings import Settings

__all__ = ["app_secret", "create_secret_file"]


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
