"""The services the composition root builds once per app and hands to every route."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import core.audit.capture  # noqa: F401  (captures every audited change from the session)
from core.activities import events as activity_events
from core.activities import links as activity_links
from core.activities import permissions as activity_permissions
from core.activities import reminders as activity_reminders
from core.activities import timeline as activity_timeline
from core.activities.subjects import BUILTIN_SUBJECTS, SubjectRegistry
from core.activities.timeline import TimelineEvent, timeline_handlers
from core.apps import events as app_events
from core.apps import jobs as app_jobs
from core.apps import permissions as app_permissions
from core.apps import status as app_status
from core.apps.audience import app_audience
from core.apps.oauth_store import AppOAuth
from core.apps.scopes import ScopeCatalogue, scope_catalogue
from core.apps.tokens import AppTokenPolicy
from core.apps.webhooks import app_webhook_handlers
from core.audit import permissions as audit_permissions
from core.crypto import jobs as crypto_jobs
from core.crypto.keyring import open_database
from core.customers import events as customer_events
from core.customers import jobs as customer_jobs
from core.customers import permissions as customer_permissions
from core.customers.events import (
    ContactCreated,
    CustomerClaimed,
    CustomerCreated,
    CustomerReturnedToPool,
    CustomerTransferred,
    CustomerUpdated,
)
from core.customers.links import CustomerLink
from core.customers.models import Contact, Customer
from core.customfields import permissions as custom_field_permissions
from core.customfields.entities import BUILTIN_ENTITIES, CustomFieldEntity, EntityRegistry, values_in_column
from core.events.catalog import event_types
from core.events.schemas import DomainEvent
from core.imports import events as import_events
from core.imports import jobs as import_jobs
from core.imports import permissions as import_permissions
from core.jobs import housekeeping
from core.jobs.registry import Job, JobRegistry, Periodic
from core.kernel.database import Database
from core.kernel.secret import app_secret
from core.kernel.settings import Settings
from core.leads import events as lead_events
from core.leads import permissions as lead_permissions
from core.leads import service as lead_service
from core.leads.events import LeadConverted
from core.leads.models import Lead
from core.mail import Mailer, build_mailer
from core.mail import jobs as mail_jobs
from core.sales import events as sales_events
from core.sales import links as sales_links
from core.sales import permissions as sales_permissions
from core.sales.events import (
    OpportunityCreated,
    OpportunityLost,
    OpportunityReopened,
    OpportunityStageChanged,
    OpportunityWon,
)
from core.sales.models import Opportunity
from core.security import jobs as identity_jobs
from core.security import permissions as identity_permissions
from core.security.jwt import TokenSigner
from core.security.rbac import PermissionRegistry
from core.security.role_sync import role_sync_jobs
from core.security.service import Authenticator, TokenPolicy
from core.security.throttle import LoginThrottling
from core.sms import NoTextMessenger, TextMessenger
from core.sms import jobs as sms_jobs
from core.webhooks import jobs as webhook_jobs
from frontend_api.ratelimit import RateLimiter
from plugins import permissions as plugin_permissions
from plugins.dispatch import PluginChecker
from plugins.events import audience_filter, plugin_handlers
from plugins.first_party import FIRST_PARTY
from plugins.mail import PluginMailer
from plugins.manager import PluginHost
from plugins.texts import PluginTextMessenger
from tenants.plugins import AllowEveryPlugin, PluginPolicy

__all__ = [
    "Services",
    "activity_subjects",
    "app_event_names",
    "build_services",
    "custom_field_entities",
    "customer_links",
    "job_registry",
    "load_plugins",
    "permission_registry",
    "timeline_events",
]


@dataclass
class Services:
    settings: Settings
    db: Database
    registry: PermissionRegistry
    auth: Authenticator
    signer: TokenSigner
    mailer: Mailer
    jobs: JobRegistry
    rate_limiter: RateLimiter
    custom_fields: EntityRegistry
    activity_subjects: SubjectRegistry
    customer_links: list[CustomerLink]
    plugins: PluginHost
    plugin_policy: PluginPolicy

    def job_mailer(self) -> Mailer:
        """What jobs send with: a tenant's provider plugin first, then ``mailer``."""
        return PluginMailer(self.mailer, self.plugins, self.db)

    def job_texter(self) -> TextMessenger:
        """What jobs text with: a tenant's SMS provider plugin, else nobody (Huike has no
        gateway of its own)."""
        return PluginTextMessenger(NoTextMessenger(), self.plugins, self.db)

    #: OAuth scopes of apps, the events their webhooks may choose, the OAuth endpoints.
    scopes: ScopeCatalogue
    app_events: list[str]
    oauth: AppOAuth


def load_plugins(settings: Settings) -> PluginHost:
    """The installed plugins: the first-party ones and those of the ``huike.plugins`` entry
    points (``HUIKE_PLUGIN_ENTRY_POINTS``), less ``HUIKE_PLUGINS_BLOCKED``."""
    return PluginHost.load(
        FIRST_PARTY,
        entry_points=settings.plugin_entry_points,
        blocked=settings.plugins_blocked,
        trace=settings.plugin_trace,
        settings=settings,
    )


def permission_registry(plugins: PluginHost | None = None) -> PermissionRegistry:
    """Every package's permissions, then every installed plugin's. New domains register here."""
    registry = PermissionRegistry()
    registry.register("core.security", identity_permissions.PERMISSIONS)
    registry.register("core.audit", audit_permissions.PERMISSIONS)
    registry.register("core.sales", sales_permissions.PERMISSIONS)
    registry.register("core.customfields", custom_field_permissions.PERMISSIONS)
    registry.register("core.customers", customer_permissions.PERMISSIONS)
    registry.register("core.activities", activity_permissions.PERMISSIONS)
    registry.register("core.leads", lead_permissions.PERMISSIONS)
    registry.register("core.imports", import_permissions.PERMISSIONS)
    registry.register("plugins", plugin_permissions.PERMISSIONS)
    for name, permissions in (plugins.permissions() if plugins else {}).items():
        registry.register(f"plugin {name}", permissions)
    registry.register("core.apps", app_permissions.PERMISSIONS)
    return registry


#: The packages whose domain events an app's webhook may choose from (each event also needs
#: the read scope of its domain, see core/apps/scopes.py). New domains list theirs here.
_EVENT_MODULES: tuple[ModuleType, ...] = (
    customer_events,
    lead_events,
    sales_events,
    activity_events,
    import_events,
    app_events,
)


def app_event_names() -> list[str]:
    """Every event name an app's webhook may subscribe to."""
    names = set()
    for module in _EVENT_MODULES:
        for attribute in module.__all__:
            value = getattr(module, attribute)
            if isinstance(value, type) and issubclass(value, DomainEvent):
                names.add(value.name)
    return sorted(names)


def custom_field_entities() -> EntityRegistry:
    """The entity types that carry custom fields. Domains that opt in register here."""
    registry = EntityRegistry()
    registry.register(
        "core.customers",
        [
            CustomFieldEntity("customer", "客户", "Customer", values_in_column(Customer.custom_fields)),
            CustomFieldEntity("contact", "联系人", "Contact", values_in_column(Contact.custom_fields)),
        ],
    )
    registry.register(
        "core.leads", [CustomFieldEntity("lead", "线索", "Lead", values_in_column(Lead.custom_fields))]
    )
    registry.register(
        "core.sales",
        [
            CustomFieldEntity(
                "opportunity", "商机", "Opportunity", values_in_column(Opportunity.custom_fields)
            )
        ],
    )
    registry.register(
        "core.customfields",
        [e for e in BUILTIN_ENTITIES if e.name not in {"customer", "contact", "lead", "opportunity"}],
    )
    return registry


def activity_subjects() -> SubjectRegistry:
    """What activities can be about. Each domain registers a resolver for its subject type
    (``core/activities/subjects.py``): leads and opportunities add theirs here."""
    registry = SubjectRegistry()
    registry.register("core.customers", BUILTIN_SUBJECTS)
    registry.register("core.leads", {"lead": lead_service.lead_subject})
    registry.register("core.sales", {"opportunity": sales_links.opportunity_subject})
    return registry


def timeline_events() -> list[TimelineEvent]:
    """The events that add an entry to their customer's timeline (``core/activities/timeline.py``).
    Other domains (orders, tickets) list theirs here."""
    return [
        TimelineEvent(CustomerCreated),
        TimelineEvent(CustomerUpdated),
        TimelineEvent(CustomerTransferred),
        TimelineEvent(CustomerReturnedToPool),
        TimelineEvent(CustomerClaimed),
        activity_timeline.MERGED,
        TimelineEvent(ContactCreated, ref="contact"),
        TimelineEvent(LeadConverted, ref="lead"),
        TimelineEvent(OpportunityCreated, ref="opportunity"),
        TimelineEvent(OpportunityStageChanged, ref="opportunity"),
        TimelineEvent(OpportunityWon, ref="opportunity"),
        TimelineEvent(OpportunityLost, ref="opportunity"),
        TimelineEvent(OpportunityReopened, ref="opportunity"),
    ]


def customer_links() -> list[CustomerLink]:
    """Domains whose rows point at customers with a foreign key, kept in the customer's own
    merge, transfer and deletion (``core/customers/links.py``). Orders add theirs here."""
    return [sales_links.CUSTOMER_LINK, activity_links.CUSTOMER_LINK]


def job_registry(settings: Settings | None = None, plugins: PluginHost | None = None) -> JobRegistry:
    """Every package's jobs, event handlers and periodic jobs, then every installed plugin's
    jobs and its handlers of every event. New domains register here."""
    registry = JobRegistry()
    registry.add_jobs(
        [
            *housekeeping.JOBS,
            *identity_jobs.JOBS,
            *mail_jobs.JOBS,
            *sms_jobs.JOBS,
            *crypto_jobs.JOBS,
            *activity_reminders.JOBS,
            *import_jobs.JOBS,
            *customer_jobs.JOBS,
            *app_jobs.JOBS,
            *app_status.JOBS,
            *webhook_jobs.JOBS,
        ]
    )
    registry.add_handlers([*activity_timeline.HANDLERS, *timeline_handlers(timeline_events())])
    known = event_types()
    permissions = permission_registry(plugins)
    role_jobs, role_periodic = role_sync_jobs(permissions)
    registry.add_jobs(role_jobs)
    registry.add_periodic(role_periodic)
    catalogue = scope_catalogue(permissions, plugins.scopes() if plugins else {})
    registry.add_handlers(app_webhook_handlers(catalogue, [known[name] for name in app_event_names()]))
    registry.add_audience_filter(app_audience)
    registry.add_periodic(
        [
            *housekeeping.PERIODIC,
            *identity_jobs.PERIODIC,
            *activity_reminders.PERIODIC,
            *customer_jobs.PERIODIC,
            *app_jobs.PERIODIC,
            *webhook_jobs.PERIODIC,
        ]
    )
    if plugins is not None and settings is not None:
        for items in plugins.jobs().values():
            registry.add_jobs([item for item in items if isinstance(item, Job)])
            registry.add_periodic([item for item in items if isinstance(item, Periodic)])
        registry.add_handlers(plugin_handlers(plugins, settings, known.values()))
        registry.add_audience_filter(audience_filter)
    return registry


def build_services(
    settings: Settings,
    db: Database | None = None,
    jobs: JobRegistry | None = None,
    plugins: PluginHost | None = None,
) -> Services:
    db = db or open_database(settings)
    plugins = plugins or load_plugins(settings)
    PluginChecker(plugins).install(db.sessions.kw["info"])
    signer = TokenSigner.from_secret(app_secret(settings))
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
    registry = permission_registry(plugins)
    scopes = scope_catalogue(registry, plugins.scopes())
    oauth_policy = AppTokenPolicy(
        access_ttl=settings.oauth_access_token_ttl_seconds,
        refresh_ttl=settings.oauth_refresh_token_ttl_seconds,
        issuer=settings.public_url,
    )
    return Services(
        settings=settings,
        db=db,
        registry=registry,
        auth=auth,
        signer=signer,
        mailer=build_mailer(settings),
        jobs=jobs or job_registry(settings, plugins),
        rate_limiter=RateLimiter.from_settings(settings),
        custom_fields=custom_field_entities(),
        activity_subjects=activity_subjects(),
        customer_links=customer_links(),
        plugins=plugins,
        plugin_policy=AllowEveryPlugin(),
        scopes=scopes,
        app_events=app_event_names(),
        oauth=AppOAuth(db, scopes, oauth_policy),
    )
