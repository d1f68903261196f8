"""The services the composition root builds once per app and hands to every route."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.crypto.keyring import open_database
from core.kernel.database import Database
from core.kernel.mail import Mailer, build_mailer
from core.kernel.settings import Settings
from core.security import permissions as identity_permissions
from core.security.jwt import TokenSigner
from core.security.opaque import new_secret
from core.security.rbac import PermissionRegistry
from core.security.service import Authenticator, TokenPolicy
from core.security.throttle import LoginThrottling

__all__ = ["Services", "build_services", "permission_registry"]


@dataclass
class Services:
    settings: Settings
    db: Database
    registry: PermissionRegistry
    auth: Authenticator
    signer: TokenSigner
    mailer: Mailer


def permission_registry() -> PermissionRegistry:
    """Every package's permissions. New domains (and, later, plugins) register here."""
    registry = PermissionRegistry()
    registry.register("core.security", identity_permissions.PERMISSIONS)
    return registry


def signing_secret(settings: Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_path("secret.key"))
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(new_secret(48))
    return path.read_text().strip()


def build_services(settings: Settings, db: Database | None = None) -> Services:
    db = db or open_database(settings)
    signer = TokenSigner.from_secret(signing_secret(settings))
    auth = Authenticator(
        db,
        signer,
        TokenPolicy(settings.access_token_ttl_seconds, settings.refresh_token_ttl_seconds),
        LoginThrottling(
            settings.login_free_attempts,
            settings.login_free_attempts_per_ip,
            settings.login_max_delay_seconds,
        ),
    )
    return Services(
        settings=settings,
        db=db,
        registry=permission_registry(),
        auth=auth,
        signer=signer,
        mailer=build_mailer(settings.mail_backend, settings.mail_from),
    )
