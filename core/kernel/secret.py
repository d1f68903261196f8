"""The application secret: signs tokens and seals job payloads that carry secrets."""

from __future__ import annotations

import secrets

from core.kernel.settings import Settings

__all__ = ["app_secret"]


def app_secret(settings: Settings) -> str:
    """``HUIKE_SECRET_KEY``, or the key file ``data_dir/secret.key`` created (mode 0600) on
    first use. Every process of one installation (web, workers) must see the same one."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_path("secret.key")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()
