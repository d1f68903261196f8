"""The ``huike`` command: serve, migrate, demo, and a few operator tasks."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

import core.audit.capture  # noqa: F401  (captures every audited change from the session)
from core.audit.context import ActorType, audit_context
from core.crypto.keyring import open_database
from core.kernel.database import Database
from core.kernel.errors import DomainError
from core.kernel.heap import freeze_startup_objects
from core.kernel.logs import configure_logging
from core.kernel.migrate import make_revision
from core.kernel.migrate import upgrade as migrate_upgrade
from core.kernel.settings import Settings

__all__ = ["main"]

T = TypeVar("T")


def _settings() -> Settings:
    return Settings.from_env()


def _run(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    async def runner() -> T:
        db = open_database(settings)
        try:
            with audit_context(ActorType.SYSTEM, "cli"):
                return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(runner())
    except DomainError as exc:
        field = f" ({exc.errors[0].field})" if exc.errors else ""
        raise click.ClickException(f"{exc.message}{field}") from exc


def _host_port(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--port", type=int, default=None, help="Port [HUIKE_PORT, 8000]")(func)
    return click.option("--host", default=None, help="Interface [HUIKE_HOST, 127.0.0.1]")(func)


@click.group()
def main() -> None:
    """Huike: multi-tenant CRM + ERP. Every setting is a HUIKE_* environment variable."""


@main.command()
@_host_port
def serve(host: str | None, port: int | None) -> None:
    """Serve the API (migrate first)."""
    _serve(_settings(), host, port)


def _serve(settings: Settings, host: str | None, port: int | None) -> None:
    import uvicorn

    from frontend_api.app import create_app

    app = create_app(settings)
    freeze_startup_objects()
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port or settings.port,
        log_level="warning",
        proxy_headers=True,
    )


@main.command()
def migrate() -> None:
    """Upgrade the database schema to the latest version."""
    from frontend_api.services import load_plugins

    settings = _settings()
    migrate_upgrade(settings, version_locations=load_plugins(settings).migration_locations())
    click.echo("Database is up to date.")


@main.command("makemigration")
@click.argument("message")
def makemigration(message: str) -> None:
    """Write a new migration from the models (review it before committing)."""
    make_revision(_settings(), message)


@main.command()
@_host_port
def demo(host: str | None, port: int | None) -> None:
    """Migrate, seed the demo tenant, print a login, and serve."""
    from frontend_api.services import load_plugins, permission_registry
    from tenants.demo import seed_demo

    settings = _settings()
    plugins = load_plugins(settings)
    migrate_upgrade(settings, version_locations=plugins.migration_locations())
    login = _run(
        settings, lambda db: seed_demo(db, permission_registry(plugins), settings.password_min_length)
    )
    url = f"http://{host or settings.host}:{port or settings.port}"
    click.echo(
        "\nHuike is starting with the demo business"
        f"{'' if login.created else ' (already seeded)'}.\n"
        f"  URL:      {url}\n"
        f"  API docs: {url}/schema/swagger\n"
        f"  Email:    {login.email}\n"
        f"  Password: {login.password}\n"
        f"  Sign in:  curl -s -X POST {url}/api/v1/auth/token -H 'Content-Type: application/json' "
        f'-d \'{{"email": "{login.email}", "password": "{login.password}"}}\'\n'
    )
    _serve(settings, host, port)


@main.command()
@click.option("--threads", type=int, default=None, help="Worker threads [HUIKE_WORKER_THREADS, 4]")
@click.option("--no-relay", is_flag=True, help="Only run jobs; leave relaying and scheduling to others")
@click.option("--burst", is_flag=True, help="Relay and run everything pending, then exit")
def worker(threads: int | None, no_relay: bool, burst: bool) -> None:
    """Run dramatiq workers for the jobs (and, unless --no-relay, the relay and scheduler)."""
    settings = _settings()
    if threads is not None:
        settings = dataclasses.replace(settings, worker_threads=threads)
    if not settings.redis_url and not burst:
        raise click.ClickException(
            "HUIKE_REDIS_URL is empty: jobs run inside `huike serve`. Set it to run separate workers."
        )
    freeze_startup_objects()
    _run(settings, lambda db: _run_jobs(settings, db, worker=True, relay=not no_relay, burst=burst))


@main.command()
def relay() -> None:
    """Run the outbox relay and the periodic-job scheduler, without workers."""
    settings = _settings()
    if not settings.redis_url:
        raise click.ClickException("HUIKE_REDIS_URL is empty: `huike serve` relays in-process.")
    _run(settings, lambda db: _run_jobs(settings, db, worker=False, relay=True, burst=False))


async def _run_jobs(settings: Settings, db: Database, *, worker: bool, relay: bool, burst: bool) -> None:
    from core.jobs.runtime import JobRuntime
    from frontend_api.services import build_services

    configure_logging(settings.log_level, settings.log_json)
    services = build_services(settings, db)
    runtime = JobRuntime(settings, db, services.jobs, services.job_mailer(), texter=services.job_texter())
    if burst:
        await runtime.start(worker=True, relay=False, scheduler=False)
        try:
            await runtime.drain()
        finally:
            await runtime.stop()
        click.echo("Every pending job has run.")
        return
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    await runtime.start(worker=worker, relay=relay, scheduler=relay)
    click.echo(f"Huike {'worker' if worker else 'relay'} running; stop with Ctrl-C.")
    try:
        await stopping.wait()
    finally:
        await runtime.stop()


@main.group()
def tenants() -> None:
    """Create and list tenants."""


@tenants.command("create")
@click.option("--name", required=True, help="Company name")
@click.option("--owner-email", required=True)
@click.option("--owner-name", required=True)
@click.password_option("--owner-password", envvar="HUIKE_NEW_PASSWORD")
def tenants_create(name: str, owner_email: str, owner_name: str, owner_password: str) -> None:
    """Create a tenant with its owner."""
    from frontend_api.services import load_plugins, permission_registry
    from tenants.schemas import SignupCommand
    from tenants.service import create_tenant_with_owner

    settings = _settings()
    command = SignupCommand(
        company_name=name, owner_name=owner_name, email=owner_email, password=owner_password
    )
    tenant, _ = _run(
        settings,
        lambda db: create_tenant_with_owner(
            db,
            permission_registry(load_plugins(settings)),
            command,
            min_password_length=settings.password_min_length,
        ),
    )
    click.echo(f"Created tenant {tenant.slug} ({tenant.id}).")


@tenants.command("list")
@click.option("--search", default=None, help="Part of the name or slug")
def tenants_list(search: str | None) -> None:
    """List tenants."""
    from core.kernel.pagination import PageRequest
    from tenants.service import list_tenants

    async def work(db: Database) -> None:
        cursor: str | None = None
        async with db.transaction() as session:
            while True:
                page = await list_tenants(session, PageRequest(limit=200, cursor=cursor), search)
                for t in page.items:
                    click.echo(f"{t.id}  {t.slug:<30} {t.status:<10} {t.plan:<10} {t.name}")
                if page.next_cursor is None:
                    return
                cursor = page.next_cursor

    _run(_settings(), work)


@main.group()
def users() -> None:
    """Manage people in a tenant."""


@users.command("create")
@click.option("--tenant", "tenant_ref", required=True, help="Tenant id or slug")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", "roles", multiple=True, default=["viewer"], show_default=True)
@click.password_option("--password", envvar="HUIKE_NEW_PASSWORD")
def users_create(tenant_ref: str, email: str, name: str, roles: tuple[str, ...], password: str) -> None:
    """Create an account (or reuse one) and add it to a tenant with roles."""
    from tenants.operator import add_user_to_tenant

    settings = _settings()
    _run(
        settings, lambda db: add_user_to_tenant(db, settings, tenant_ref, email, name, password, list(roles))
    )
    click.echo(f"{email} is now a member of {tenant_ref} as {', '.join(roles)}.")


@main.group()
def admin() -> None:
    """Manage platform admins."""


@admin.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.password_option("--password", envvar="HUIKE_NEW_PASSWORD")
def admin_create(email: str, name: str, password: str) -> None:
    """Create (or promote) a platform admin."""
    from tenants.operator import create_platform_admin

    settings = _settings()
    _run(settings, lambda db: create_platform_admin(db, settings, email, name, password))
    click.echo(f"{email} is a platform admin. Sign in at POST /api/platform/auth/token.")


@main.group()
def audit() -> None:
    """Check the audit log."""


@audit.command("verify")
@click.option("--tenant", "tenant_ref", default=None, help="Tenant id or slug (default: every tenant)")
def audit_verify(tenant_ref: str | None) -> None:
    """Walk the hash chains; exit 1 and name the first bad entry if one was tampered with."""
    from core.audit.verify import verify_chains

    report = _run(_settings(), lambda db: verify_chains(db, tenant_ref))
    for problem in report.problems:
        click.echo(
            f"BROKEN tenant {problem.tenant_slug} ({problem.tenant_id}) at entry {problem.seq}: "
            f"{problem.problem}",
            err=True,
        )
    if report.problems:
        raise SystemExit(1)
    click.echo(f"Audit log intact: {report.tenants} tenant(s), {report.entries} entries verified.")


@main.group()
def keys() -> None:
    """Encryption keys: provision, rotate, shred (see docs/encryption.md)."""


@keys.command("provision")
def keys_provision() -> None:
    """Give data keys to every tenant that has none (tenants created before encryption)."""
    from core.crypto.service import provision_missing_keys

    created = _run(_settings(), provision_missing_keys)
    click.echo(f"Provisioned keys for {created} tenant(s).")


@keys.command("rotate-master")
def keys_rotate_master() -> None:
    """Re-wrap every tenant data key and every app's webhook secret under a new master key
    (rerun to resume)."""
    from core.apps.webhook_secrets import rewrap_app_secrets
    from core.crypto.service import rotate_master

    report = _run(_settings(), lambda db: rotate_master(db, [rewrap_app_secrets]))
    click.echo(
        f"Every tenant key ({report.rewrapped} re-wrapped, {report.tenants} tenant(s)) is now wrapped "
        f"under master key {report.master_key_id}."
    )
    if report.retired:
        click.echo(f"No longer used: {', '.join(report.retired)}.")


@keys.command("rotate-tenant")
@click.option("--tenant", "tenant_ref", required=True, help="Tenant id or slug")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=500, show_default=True)
@click.option(
    "--background", is_flag=True, help="Enqueue it as a job for the workers; follow it with `keys status`"
)
def keys_rotate_tenant(tenant_ref: str, batch_size: int, background: bool) -> None:
    """New data key version for a tenant; re-encrypt its rows in batches (rerun to resume)."""
    from core.crypto.jobs import RotateTenantKeys, rotate_tenant_keys
    from core.crypto.schemas import TenantRotationProgress
    from core.crypto.service import rotate_tenant
    from core.jobs.service import enqueue
    from core.kernel.tenancy import tenant_context
    from tenants.operator import find_tenant_by_ref

    def show(progress: TenantRotationProgress) -> None:
        where = progress.table or "done"
        click.echo(
            f"  v{progress.from_version} -> v{progress.to_version}: {progress.rows_done} rows ({where})"
        )

    async def work(db: Database) -> TenantRotationProgress:
        tenant = await find_tenant_by_ref(db, tenant_ref)
        return await rotate_tenant(db, tenant.id, batch_size=batch_size, progress=show)

    async def queue(db: Database) -> None:
        tenant = await find_tenant_by_ref(db, tenant_ref)
        with tenant_context(tenant.id):
            async with db.transaction() as session:
                await enqueue(session, rotate_tenant_keys, RotateTenantKeys(batch_size=batch_size))

    if background:
        _run(_settings(), queue)
        click.echo(
            f"Rotation of {tenant_ref} queued; follow it with `huike keys status --tenant {tenant_ref}`."
        )
        return
    done = _run(_settings(), work)
    click.echo(f"Tenant {tenant_ref} now uses data key version {done.to_version} ({done.rows_done} rows).")


@keys.command("status")
@click.option("--tenant", "tenant_ref", required=True, help="Tenant id or slug")
def keys_status(tenant_ref: str) -> None:
    """The tenant's key versions and its latest rotation, with progress."""
    from core.crypto.service import key_status
    from tenants.operator import find_tenant_by_ref

    async def work(db: Database) -> list[str]:
        tenant = await find_tenant_by_ref(db, tenant_ref)
        return await key_status(db, tenant.id)

    for line in _run(_settings(), work):
        click.echo(line)


@keys.command("shred")
@click.option("--tenant", "tenant_ref", required=True, help="Tenant id or slug")
@click.confirmation_option(
    prompt="Destroy this tenant's data keys? Its encrypted data becomes unreadable forever."
)
def keys_shred(tenant_ref: str) -> None:
    """Crypto-shred a tenant: destroy its data keys (irreversible)."""
    from core.crypto.schemas import ShredReport
    from core.crypto.service import shred_tenant
    from tenants.operator import find_tenant_by_ref

    async def work(db: Database) -> ShredReport:
        tenant = await find_tenant_by_ref(db, tenant_ref)
        return await shred_tenant(db, tenant.id)

    report = _run(_settings(), work)
    click.echo(f"Destroyed {report.versions_destroyed} key version(s) of {tenant_ref}.")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


@main.group()
def plugin() -> None:
    """Write plugins (see docs/plugins/)."""


@plugin.command("new")
@click.argument("name")
@click.option("--directory", default=".", show_default=True, type=click.Path(file_okay=False))
def plugin_new(name: str, directory: str) -> None:
    """Scaffold an installable plugin package NAME with a hook, a route, a migration, a
    configuration schema and a passing test."""
    from pathlib import Path

    from plugins.scaffold import scaffold

    try:
        root = scaffold(name, Path(directory))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Created {root}.\n"
        f"  cd {root} && pip install -e . && pytest   # its tests, in Huike's environment\n"
        "Restart Huike to load it; see docs/plugins/README.md."
    )
