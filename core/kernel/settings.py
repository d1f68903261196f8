"""The one settings module: every setting is an environment variable ``HUIKE_<NAME>``.

Nothing is read at import time. ``Settings.from_env()`` is called by the app factory and
the CLI; tests build their own ``Settings`` directly.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Settings", "SettingsError"]

PREFIX = "HUIKE_"


class SettingsError(ValueError):
    """A ``HUIKE_*`` variable holds a value of the wrong type."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Runtime configuration. Field ``foo_bar`` is read from ``HUIKE_FOO_BAR``."""

    #: SQLAlchemy URL the application connects with. On PostgreSQL this role must own no
    #: table and lack BYPASSRLS, so row-level security applies to it.
    database_url: str = "sqlite+aiosqlite:///./var/huike.db"
    #: URL used by ``huike migrate`` (the table owner). Empty means ``database_url``.
    migration_database_url: str = ""
    #: Folder for the embedded database, the signing key and other local state.
    data_dir: str = "./var"
    host: str = "127.0.0.1"
    port: int = 8000
    #: Base URL put into links sent by email (invitations, password resets).
    public_url: str = "http://127.0.0.1:8000"
    #: Secret used to sign tokens. Empty means: create one in ``data_dir/secret.key``.
    secret_key: str = ""
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    #: Lifetime of an app's OAuth access token, and of its refresh token (rotated on use).
    oauth_access_token_ttl_seconds: int = 3600
    oauth_refresh_token_ttl_seconds: int = 30 * 24 * 3600
    #: Where an app sends the admin's browser to consent: the web front end's page, which
    #: calls ``GET``/``POST /oauth/authorize`` with the admin's token. Empty means
    #: ``<public_url>/oauth/authorize``.
    oauth_consent_url: str = ""
    invitation_ttl_seconds: int = 7 * 24 * 3600
    password_reset_ttl_seconds: int = 3600
    password_min_length: int = 10
    #: Failed logins allowed per account before delays start.
    login_free_attempts: int = 5
    #: Failed logins allowed from one IP (across accounts) before delays start.
    login_free_attempts_per_ip: int = 20
    #: Longest delay imposed after repeated failed logins.
    login_max_delay_seconds: int = 900
    #: Largest accepted request body.
    max_body_bytes: int = 1_048_576
    #: Largest accepted import upload (``POST /api/v1/imports``, which streams the file into
    #: the database instead of holding it: it has its own limit instead of ``max_body_bytes``).
    import_max_bytes: int = 50 * 1_048_576
    #: Rows an import writes per transaction (progress and resume move by this much).
    import_batch_rows: int = 1000
    #: ``console`` prints every message; ``smtp`` delivers through ``HUIKE_SMTP_*``;
    #: ``memory`` keeps them in the process (tests).
    mail_backend: str = "console"
    mail_from: str = "Huike <no-reply@huike.local>"
    smtp_host: str = ""
    smtp_port: int = 587
    #: ``starttls`` (port 587), ``ssl`` (implicit TLS, port 465) or ``none`` (local relays only).
    smtp_security: str = "starttls"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_timeout_seconds: int = 30
    #: Redis for jobs, rate limits and other state shared between processes. Empty (the
    #: embedded default) means in-process jobs and in-memory counters: one process only.
    redis_url: str = ""
    #: Retries of a failing job or handler before it lands in the dead letters.
    job_max_retries: int = 5
    #: Backoff between retries: doubles from the minimum up to the maximum (milliseconds).
    job_min_backoff_ms: int = 1000
    job_max_backoff_ms: int = 3_600_000
    #: Threads of each dramatiq worker (the in-process one, and each ``huike worker``).
    worker_threads: int = 4
    #: How often the relay looks for committed outbox rows when no commit woke it (see
    #: core/jobs/wakeup.py), and how many it sends at once.
    relay_interval_ms: int = 500
    relay_batch_size: int = 100
    #: While events stream in, the shortest time between two passes of a batching relay
    #: (PostgreSQL): what commits meanwhile goes in one pass, as one batch per handler.
    relay_gather_ms: int = 100
    #: Run the job runtime inside ``huike serve``: without Redis the worker, relay and
    #: scheduler; with Redis the relay and scheduler only (unless ``web_relay`` is off).
    background_jobs: bool = True
    #: With Redis: whether web processes relay and schedule too (else only ``huike worker``
    #: and ``huike relay`` processes do).
    web_relay: bool = True
    #: Days sent outbox rows and processed-message records are kept before the purge.
    events_retention_days: int = 7
    #: Rate limits (``limits`` notation: ``600/minute``, ``10/second``; empty: no limit).
    #: Counted in Redis when ``redis_url`` is set, else in this process's memory.
    rate_limit_enabled: bool = True
    #: Requests of one tenant, all its members and API keys together.
    rate_limit_per_tenant: str = "6000/minute"
    #: Requests of one credential: a member's token, an API key, a platform admin.
    rate_limit_per_credential: str = "1200/minute"
    #: Requests from one client IP to the routes that take no credential (sign-in, signup...).
    rate_limit_per_ip: str = "300/minute"
    #: Submissions from one client IP to one public lead form (on top of the per-IP limit).
    rate_limit_lead_form: str = "10/minute"
    #: Requests from one client IP to each OAuth endpoint (token, revoke, introspect).
    rate_limit_oauth: str = "120/minute"
    log_level: str = "INFO"
    #: Log as JSON lines (``true``) or as plain text.
    log_json: bool = True
    #: Extra origins allowed to call the API from a browser, comma separated.
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    #: Who holds the master keys that wrap tenant data keys: ``local`` (env var or key file).
    key_provider: str = "local"
    #: Master key, base64 of 32 random bytes. Empty means: the key file ``data_dir/master.key``.
    master_key: str = ""
    #: Older master keys (comma separated), still readable while ``huike keys rotate-master`` runs.
    master_key_previous: tuple[str, ...] = field(default_factory=tuple)
    #: How long a process keeps an unwrapped tenant data key in memory.
    key_cache_seconds: int = 300
    #: Region assumed for phone numbers written without a country code (blind index, E.164).
    phone_region: str = "CN"
    #: Log every plugin hook call (hook, plugin, tenant, duration, outcome) at INFO.
    plugin_trace: bool = False
    #: Installed plugins this deployment does not load (comma separated names).
    plugins_blocked: tuple[str, ...] = field(default_factory=tuple)
    #: Load plugins found through the ``huike.plugins`` entry points (first-party ones always).
    plugin_entry_points: bool = True
    #: Events in a row that a plugin's handler dead-letters for a tenant before the plugin is
    #: paused for that tenant (its admins are told by email).
    plugin_pause_after: int = 5
    #: Outgoing webhooks (``core/webhooks``, docs/plugins/webhooks.md). How long one delivery
    #: attempt may take, connecting, sending and reading the answer together (milliseconds).
    webhook_timeout_ms: int = 10_000
    #: Attempts of one delivery in all (the first included) before it is ``dead``.
    webhook_max_attempts: int = 9
    #: Delays before each retry (``ms``, ``s``, ``m``, ``h`` or ``d``), comma separated; past
    #: the end the last one repeats. Each is jittered by up to ±10%.
    webhook_retry_schedule: tuple[str, ...] = ("10s", "1m", "5m", "30m", "2h", "6h", "12h", "24h")
    #: Allow endpoints on loopback and private networks, and plain ``http`` to loopback
    #: (development and tests). Off in production: a tenant must not make the platform call
    #: its own internal services (SSRF); checked when an endpoint is saved and again, after
    #: DNS resolution, before every attempt.
    webhook_allow_private_urls: bool = False
    #: Days deliveries (and their attempts) are kept once they are finished.
    webhook_retention_days: int = 30

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``HUIKE_*`` variables, then apply ``overrides``."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = _parse(f.name, str(f.type), raw)
        values.update(overrides)
        return cls(**values)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def owner_database_url(self) -> str:
        return self.migration_database_url or self.database_url

    def data_path(self, *parts: str) -> Path:
        return Path(self.data_dir).joinpath(*parts)


def _parse(name: str, type_name: str, raw: str) -> Any:
    try:
        if type_name == "int":
            return int(raw)
        if type_name == "bool":
            lowered = raw.strip().lower()
            if lowered not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                raise ValueError(raw)
            return lowered in {"1", "true", "yes", "on"}
        if type_name.startswith("tuple"):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
    except ValueError as exc:
        raise SettingsError(f"{PREFIX}{name.upper()}: expected {type_name}, got {raw!r}") from exc
    return raw
