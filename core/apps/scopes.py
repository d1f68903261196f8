"""OAuth scopes: what an app may ask for, in words a tenant admin understands, and the RBAC
permissions each one stands for.

The scopes are a declared table, not derived from the permission registry. A scope is a
promise shown on a consent screen and accepted by businesses: if ``customers:write`` were
"every ``customers.*`` permission but read", shipping ``customers.delete`` would silently let
every installed app delete customers. With a table, a new permission reaches apps only
through a new scope, which admins must approve. Two checks keep the table honest: building
the catalogue refuses a scope naming an unknown permission, and a test fails on a core
permission that is neither in a scope nor in :data:`NOT_FOR_APPS` (so a new domain decides).

A scope may also open domain events for the app's webhooks: ``customers:read`` lets an app
subscribe to ``customers.*`` events (payloads carry ids, never personal data).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from core.apps.schemas import ScopeView
from core.kernel.errors import Invalid
from core.security.rbac import PermissionRegistry, Scope

__all__ = [
    "CORE_SCOPES",
    "NOT_FOR_APPS",
    "AppScope",
    "ScopeCatalogue",
    "join_scopes",
    "scope_catalogue",
    "split_scopes",
]

_NAME = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")
#: An app acts for the business, not as a person: "own" and "team" would mean nothing.
APP_RECORD_SCOPE: Scope = "all"


@dataclass(frozen=True, slots=True)
class AppScope:
    """An OAuth scope: a name (``<domain>:<access>``), its words on the consent screen, and
    the permissions it stands for (a plugin declares scopes over its own permissions)."""

    name: str
    label_en: str
    label_zh: str
    permissions: frozenset[str]
    #: Domains whose events (``<domain>.<event>``) an app holding this scope may receive.
    event_domains: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:  # any iterable of names, kept as frozensets
        object.__setattr__(self, "permissions", frozenset(self.permissions))
        object.__setattr__(self, "event_domains", frozenset(self.event_domains))


def _scope(name: str, en: str, zh: str, permissions: Iterable[str], events: Iterable[str] = ()) -> AppScope:
    return AppScope(name, en, zh, frozenset(permissions), frozenset(events))


def scope_catalogue(
    registry: PermissionRegistry, plugin_scopes: Mapping[str, Iterable[AppScope]]
) -> ScopeCatalogue:
    """The core's scopes, then each plugin's (``{plugin: scopes}``), each of which must be
    named ``<plugin>:<access>`` and stand only for that plugin's own permissions.

    Raises:
        ValueError: a plugin scope breaking those rules, or any rule of :meth:`ScopeCatalogue.register`.
    """
    catalogue = ScopeCatalogue(registry)
    for plugin, scopes in plugin_scopes.items():
        declared = list(scopes)
        for scope in declared:
            if scope.name.partition(":")[0] != plugin:
                raise ValueError(f"plugin {plugin}: scope {scope.name!r} must start with {plugin}:")
            foreign = sorted(p for p in scope.permissions if p.partition(".")[0] != plugin)
            if foreign:
                raise ValueError(f"plugin {plugin}: scope {scope.name!r} names others' permissions {foreign}")
            if scope.event_domains:
                raise ValueError(f"plugin {plugin}: scope {scope.name!r} cannot open domain events")
        catalogue.register(f"plugin {plugin}", declared)
    return catalogue


CORE_SCOPES: tuple[AppScope, ...] = (
    _scope(
        "customers:read",
        "See customers and their contacts (phone numbers and ID numbers stay masked)",
        "查看客户及其联系人（手机号和证件号打码显示）",
        ["customers.read"],
        ["customers"],
    ),
    _scope(
        "customers:write",
        "Add and change customers and their contacts",
        "新增和修改客户及其联系人",
        ["customers.create", "customers.update"],
    ),
    _scope(
        "customers:sensitive",
        "See customers' phone numbers, emails, addresses and ID numbers unmasked",
        "查看未打码的客户手机号、邮箱、地址和证件号",
        ["customers.read_sensitive"],
    ),
    _scope("leads:read", "See leads", "查看线索", ["leads.read"], ["leads"]),
    _scope(
        "leads:write",
        "Add, change and convert leads",
        "新增、修改和转化线索",
        ["leads.create", "leads.update", "leads.convert"],
    ),
    _scope(
        "opportunities:read",
        "See opportunities, the sales pipelines and the sales reports",
        "查看商机、销售流程和销售报表",
        ["opportunities.read", "pipelines.read"],
        ["opportunities"],
    ),
    _scope(
        "opportunities:write",
        "Add and change opportunities, and mark them won or lost",
        "新增和修改商机，并标记赢单或输单",
        ["opportunities.create", "opportunities.update", "opportunities.close"],
    ),
    _scope(
        "activities:read",
        "See activities and tasks",
        "查看跟进记录和任务",
        ["activities.read"],
        ["activities"],
    ),
    _scope(
        "activities:write",
        "Log activities, add tasks and complete them",
        "记录跟进、添加和完成任务",
        ["activities.create", "activities.update"],
    ),
    _scope(
        "custom_fields:read",
        "See which custom fields the business defined",
        "查看企业定义的自定义字段",
        ["custom_fields.read"],
    ),
    _scope(
        "members:read",
        "See the people and teams of the business",
        "查看企业的成员和团队",
        ["members.read", "teams.read"],
    ),
    _scope("tenant:read", "See the business's name and settings", "查看企业名称和设置", ["tenant.read"]),
)

#: Core permissions that no scope grants, on purpose: administration of people, roles,
#: credentials and apps (an app must not widen its own reach), deletions, ownership moves,
#: bulk imports and exports, and the audit log.
NOT_FOR_APPS: frozenset[str] = frozenset(
    {
        "activities.delete",
        "api_keys.manage",
        "apps.develop",
        "apps.install",
        "audit.read",
        "custom_fields.manage",
        "customers.claim",
        "customers.delete",
        "customers.manage_pool",
        "customers.merge",
        "customers.release",
        "customers.transfer",
        "imports.export",
        "imports.run",
        "leads.assign",
        "leads.delete",
        "leads.manage",
        "members.invite",
        "members.manage",
        "opportunities.delete",
        "opportunities.reopen",
        "opportunities.transfer",
        "pipelines.manage",
        "plugins.manage",
        "roles.manage",
        "roles.read",
        "teams.manage",
        "tenant.manage",
        "tenant.transfer_ownership",
    }
)


def split_scopes(text: str | None) -> list[str]:
    """The scope names of an OAuth ``scope`` parameter (space-delimited, RFC 6749 §3.3)."""
    return sorted(set((text or "").split()))


def join_scopes(names: Iterable[str]) -> str:
    return " ".join(sorted(set(names)))


class ScopeCatalogue:
    """Every scope of this process, checked against the permission registry."""

    def __init__(self, registry: PermissionRegistry, scopes: Iterable[AppScope] = CORE_SCOPES) -> None:
        self._registry = registry
        self._scopes: dict[str, AppScope] = {}
        self.register("core.apps", scopes)

    def register(self, owner: str, scopes: Iterable[AppScope]) -> None:
        """Add ``scopes`` (a plugin may declare scopes over its own permissions).

        Raises:
            ValueError: a malformed or duplicate name, or a permission the registry lacks.
        """
        for scope in scopes:
            if not _NAME.match(scope.name):
                raise ValueError(f"{owner}: scope {scope.name!r} is not 'domain:access'")
            if scope.name in self._scopes:
                raise ValueError(f"{owner}: scope {scope.name!r} is already declared")
            unknown = sorted(p for p in scope.permissions if p not in self._registry)
            if unknown or not scope.permissions:
                raise ValueError(f"{owner}: scope {scope.name!r} names unknown permissions {unknown}")
            self._scopes[scope.name] = scope

    def __contains__(self, name: object) -> bool:
        return name in self._scopes

    def __iter__(self) -> Iterator[AppScope]:
        return iter(sorted(self._scopes.values(), key=lambda s: s.name))

    def __getitem__(self, name: str) -> AppScope:
        return self._scopes[name]

    def unknown(self, names: Iterable[str]) -> list[str]:
        return sorted({n for n in names if n not in self._scopes})

    def validate(self, names: Sequence[str], field_name: str) -> list[str]:
        """``names`` sorted and deduplicated, when every one is a known scope.

        Raises:
            Invalid: an unknown scope, or none at all.
        """
        unknown = self.unknown(names)
        if unknown:
            raise Invalid(
                f"Unknown scope {unknown[0]!r}; see GET /api/v1/apps/scopes for the list.",
                field=field_name,
                code="unknown_scope",
            )
        if not names:
            raise Invalid("Choose at least one scope.", field=field_name, code="required")
        return sorted(set(names))

    def grants(self, names: Iterable[str]) -> dict[str, Scope]:
        """The RBAC grants ``names`` stand for: each permission at record scope ``all``."""
        permissions = {p for n in names if n in self._scopes for p in self._scopes[n].permissions}
        return {p: APP_RECORD_SCOPE for p in sorted(permissions)}

    def events_allowed(self, names: Iterable[str], known_events: Collection[str]) -> list[str]:
        """The events of ``known_events`` that an app holding ``names`` may subscribe to."""
        domains = {d for n in names if n in self._scopes for d in self._scopes[n].event_domains}
        return sorted(e for e in known_events if e.split(".", 1)[0] in domains)

    def describe(self, names: Iterable[str]) -> list[ScopeView]:
        """The scopes of ``names`` in plain words, for a consent screen (unknown ones left out)."""
        return [
            ScopeView(
                name=s.name, label_en=s.label_en, label_zh=s.label_zh, permissions=sorted(s.permissions)
            )
            for s in (self._scopes[n] for n in sorted(set(names)) if n in self._scopes)
        ]
