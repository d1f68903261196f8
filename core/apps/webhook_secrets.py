"""An app's webhook signing secret: one per app, shown to its developer once (at
registration and at each rotation), signing its deliveries in every tenant that installed it.

It cannot be sealed with a tenant's data key like the endpoints a business configures: the
deliveries are made in the installing tenants' transactions, which never read the
developer's keys. So it is wrapped by the platform's master key, bound to the app's id (a
wrapped secret copied to another app does not open), and re-wrapped by a master-key rotation
(:func:`rewrap_app_secrets`, called by ``huike keys rotate-master``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from core.apps.models import App
from core.crypto.providers import KeyProvider, WrappedKey
from core.kernel.clock import utcnow
from core.kernel.database import Database
from core.kernel.tenancy import tenant_context
from core.security.opaque import new_secret

__all__ = [
    "WEBHOOK_SECRET_PREFIX",
    "SigningSecrets",
    "new_webhook_secret",
    "rewrap_app_secrets",
    "signing_secrets",
]

WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of every webhook secret, as for endpoints
_DISPLAY_CHARS = 6


@dataclass(frozen=True, slots=True)
class SigningSecrets:
    """What an app's deliveries are signed with right now."""

    current: str
    previous: str | None
    previous_expires_at: datetime | None


def _context(app_id: uuid.UUID) -> bytes:
    return f"huike-app-webhook-secret|{app_id}".encode()


def _wrap(provider: KeyProvider, app_id: uuid.UUID, secret: str) -> tuple[str, bytes]:
    wrapped = provider.wrap(secret.encode(), _context(app_id))
    return wrapped.master_key_id, wrapped.blob


def _unwrap(provider: KeyProvider, app_id: uuid.UUID, key_id: str, blob: bytes) -> str:
    return provider.unwrap(WrappedKey(key_id, blob), _context(app_id)).decode()


def new_webhook_secret(provider: KeyProvider, app: App, *, grace: timedelta | None = None) -> str:
    """Give ``app`` a new signing secret and return it (to be shown once). With ``grace`` the
    old one keeps signing beside it (two ``v1=`` in ``Huike-Signature``) until then."""
    if grace and app.webhook_secret is not None:
        app.webhook_previous_secret = app.webhook_secret
        app.webhook_previous_secret_key_id = app.webhook_secret_key_id
        app.webhook_previous_secret_expires_at = utcnow() + grace
    else:
        app.webhook_previous_secret = None
        app.webhook_previous_secret_key_id = None
        app.webhook_previous_secret_expires_at = None
    secret = WEBHOOK_SECRET_PREFIX + new_secret()
    app.webhook_secret_key_id, app.webhook_secret = _wrap(provider, app.id, secret)
    app.webhook_secret_prefix = secret[: len(WEBHOOK_SECRET_PREFIX) + _DISPLAY_CHARS]
    return secret


def signing_secrets(provider: KeyProvider, app: App) -> SigningSecrets | None:
    """The app's secrets in clear (None for an app that has none yet)."""
    if app.webhook_secret is None or app.webhook_secret_key_id is None:
        return None
    previous = None
    expires = app.webhook_previous_secret_expires_at
    if (
        app.webhook_previous_secret is not None
        and app.webhook_previous_secret_key_id is not None
        and expires is not None
        and expires > utcnow()
    ):
        previous = _unwrap(provider, app.id, app.webhook_previous_secret_key_id, app.webhook_previous_secret)
    return SigningSecrets(
        current=_unwrap(provider, app.id, app.webhook_secret_key_id, app.webhook_secret),
        previous=previous,
        previous_expires_at=expires if previous is not None else None,
    )


async def rewrap_app_secrets(db: Database, provider: KeyProvider, master_key_id: str) -> int:
    """Re-wrap every app's webhook secrets still wrapped under another master key than
    ``master_key_id``; returns how many apps changed. Each app's developer tenant is entered to
    write it (the apps table lets only the developer tenant write its rows)."""
    async with db.sessions() as session:
        owners = (
            await session.execute(
                select(App.id, App.developer_tenant_id).where(
                    or_(
                        App.webhook_secret_key_id != master_key_id,
                        App.webhook_previous_secret_key_id != master_key_id,
                    )
                )
            )
        ).all()
    for app_id, developer in owners:
        with tenant_context(developer):
            async with db.transaction() as session:
                app = await session.scalar(select(App).where(App.id == app_id).with_for_update())
                if app is None:
                    continue
                for blob_attr, key_attr in (
                    ("webhook_secret", "webhook_secret_key_id"),
                    ("webhook_previous_secret", "webhook_previous_secret_key_id"),
                ):
                    blob, key_id = getattr(app, blob_attr), getattr(app, key_attr)
                    if blob is None or key_id is None or key_id == master_key_id:
                        continue
                    secret = _unwrap(provider, app.id, key_id, blob)
                    new_key_id, new_blob = _wrap(provider, app.id, secret)
                    setattr(app, blob_attr, new_blob)
                    setattr(app, key_attr, new_key_id)
    return len(owners)
