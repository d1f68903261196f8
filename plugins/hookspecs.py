"""The hook specifications: every hook a plugin may implement, when it is called, in which
transaction state, and what it may return.

Implementations carry ``plugins.sdk.hookimpl`` and take the parameters named here (pluggy
lets an implementation take fewer). A hook may be ``async def``; Huike awaits it. Three kinds:

* registration hooks run once, when the app (or a worker) starts, with no tenant and no
  transaction; they describe the plugin;
* check and event hooks run for one tenant, and only on the plugins that tenant enabled;
* provider hooks (``firstresult``) run for one tenant: the first enabled plugin that answers
  something other than ``None`` provides the service, otherwise Huike's own default does.

docs/plugins/hooks.md is the reference; a test fails when it and this module disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pluggy

from plugins.sdk.info import PROJECT

if TYPE_CHECKING:
    from core.apps.scopes import AppScope
    from core.customers.schemas import CustomerView
    from core.events.schemas import DomainEvent
    from core.jobs.registry import Job, Periodic
    from core.sales.schemas import OpportunityView
    from core.security.rbac import Permission
    from plugins.sdk import (
        ChatMessage,
        EmailMessage,
        HookContext,
        PluginInfo,
        SmsMessage,
        SmsResult,
        TaxLine,
        TaxQuote,
    )

__all__ = ["HOOK_KINDS", "hookspec"]

hookspec = pluggy.HookspecMarker(PROJECT)


# Registration: at start-up, no tenant, no transaction.


@hookspec(firstresult=True)
def plugin_info() -> PluginInfo:
    """Required. Who the plugin is: its name (routes, permissions and jobs are prefixed with
    it), title, description, version, and the Struct its tenant configuration must match."""
    raise NotImplementedError


@hookspec
def register_permissions() -> Iterable[Permission]:
    """Permissions the plugin's routes and data need, named ``<plugin>.<action>``. They join
    the core's registry at start-up; a name already taken stops the start with an error.
    Tenant admins grant them to roles like any other."""
    raise NotImplementedError


@hookspec
def register_scopes() -> Iterable[AppScope]:
    """OAuth scopes over the plugin's own permissions, named ``<plugin>:<access>``
    (``core.apps.scopes.AppScope``), so that out-of-process apps can call the plugin's routes
    once a business's admin grants the scope on the consent screen. Without one, no app
    reaches the plugin's routes. Read once at start-up; a scope naming another's permission,
    or a name already taken, stops the start with an error."""
    raise NotImplementedError


@hookspec
def register_routes() -> Iterable[Any]:
    """Litestar route handlers, controllers or routers. They are mounted under
    ``/api/v1/plugins/<plugin>/`` and answer only for tenants that enabled the plugin (404
    for the others). Each handler declares its permission in ``opt`` like every core route
    (``opt={"permission": "<plugin>.<action>"}``); the session it is given is bound to the
    caller's tenant."""
    raise NotImplementedError


@hookspec
def register_jobs() -> Iterable[Job[Any] | Periodic]:
    """Background jobs (``core.jobs.registry.job``) and periodic jobs. Job names must start
    with ``<plugin>.``. A tenant job runs in its tenant's context and sees that tenant only;
    it must itself check that the plugin is still enabled if that matters."""
    raise NotImplementedError


@hookspec(firstresult=True)
def register_migrations() -> str | None:
    """The folder of the plugin's Alembic revisions: one branch labelled with the plugin's
    name, whose first revision ``depends_on`` Huike's ``plugins`` revision. ``huike migrate``
    upgrades the core and every installed plugin. Tables of tenant-owned models
    (``core.kernel.models.TenantOwned``) must enable row-level security in their migration
    (``core.migrations.rls.enable_tenant_rls``); a test walks every table and checks it."""
    raise NotImplementedError


# Checks: inside the transaction of the change, before it commits.


@hookspec
def before_customer_create(ctx: HookContext, customer: CustomerView) -> str | None:
    """Called when a customer (with its first contacts) has been written in the creating
    transaction, before it commits, for the tenant's enabled plugins. ``customer`` is what
    the caller will see (personal fields masked if the caller may not read them). Return a
    message to refuse: the transaction rolls back, nothing is written, and the API answers
    422 ``vetoed`` naming the plugin and the message. Return ``None`` to let it pass. Keep it
    fast: every create waits for it."""
    raise NotImplementedError


@hookspec
def before_opportunity_win(ctx: HookContext, opportunity: OpportunityView) -> str | None:
    """Called when an opportunity has been marked won (moved into its won stage or through
    ``/won``), before the transaction commits. ``opportunity`` shows it as won, with its
    final amount. Return a message to refuse (422 ``vetoed``, nothing written), or
    ``None``."""
    raise NotImplementedError


# Events: after commit, from the outbox.


@hookspec
def on_event(ctx: HookContext, event: DomainEvent) -> None:
    """Called after the transaction that recorded ``event`` committed, once per event and
    plugin, in a job of its own: a plugin that raises is retried with backoff on its own
    (other plugins are not retried and not blocked); after the last retry the event lands in
    the dead letters under ``handler:plugin.<plugin>``. A plugin whose events keep dying for
    a tenant is paused for that tenant, and the tenant's admins are told why. Delivery is at
    least once: deduplicate on ``ctx``'s event id (``event`` plus the job's message id) if
    an effect must not repeat. What the hook writes through ``ctx.session`` commits with the
    record that the event was handled."""
    raise NotImplementedError


# Providers: the first enabled plugin that answers provides the service.


@hookspec(firstresult=True)
def send_email(ctx: HookContext, message: EmailMessage) -> bool | None:
    """Send the tenant's outgoing email (reminders, notices, invitations of its members)
    through the plugin's own transport. Return ``True`` once sent, ``None`` to leave it to
    the next provider and finally to the platform's mailer. Raise to fail the sending job,
    which retries. Runs in a job, outside any request."""
    raise NotImplementedError


@hookspec(firstresult=True)
def send_sms(ctx: HookContext, message: SmsMessage) -> SmsResult | None:
    """Send the tenant's templated text message: ``message.phone`` in E.164,
    ``message.template`` the purpose (``activity.reminder``), ``message.params`` its slots.
    Return the gateway's result once accepted, ``None`` to pass (no template for that
    purpose). Huike itself sends no SMS, so with no provider there is no text message (the
    core's default reports it not sent). Raise to fail the sending job (``sms.send``), which
    retries; the mail sent for the same reason is a job of its own and is not affected. Runs
    in a job, outside any request. The ``sms`` plugin provides it; task reminders call it."""
    raise NotImplementedError


@hookspec(firstresult=True)
def notify_chat(ctx: HookContext, message: ChatMessage) -> bool | None:
    """Post a notification to the tenant's team chat. Return ``True`` once posted, ``None``
    to pass. With no provider nothing is posted. The ``wecom`` and ``dingtalk`` plugins
    provide it; the core does not call it yet."""
    raise NotImplementedError


@hookspec(firstresult=True)
def calculate_tax(ctx: HookContext, lines: list[TaxLine]) -> TaxQuote | None:
    """Quote the tax of ``lines``. Return a quote (one amount per line), or ``None`` to pass.
    Not called by the core yet: orders and invoices (a later module) will call it, with
    their own default when no plugin answers."""
    raise NotImplementedError


#: Every hook by kind; the reference in docs/plugins/hooks.md lists them in these groups.
HOOK_KINDS: dict[str, tuple[str, ...]] = {
    "registration": (
        "plugin_info",
        "register_permissions",
        "register_scopes",
        "register_routes",
        "register_jobs",
        "register_migrations",
    ),
    "check": ("before_customer_create", "before_opportunity_win"),
    "event": ("on_event",),
    "provider": ("send_email", "send_sms", "notify_chat", "calculate_tax"),
}
