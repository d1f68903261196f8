"""The plugin manager: finds installed plugins, checks them, and answers which
implementations to call for a set of enabled plugins.

Built by the composition root (``PluginHost.load``) once per app or worker, never global.
Installed means available: loading a plugin calls only its registration hooks; its check,
event and provider hooks run for the tenants that enabled it (:mod:`plugins.dispatch`).
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import pluggy
from pluggy import HookCaller, HookImpl

from core.apps.scopes import AppScope
from core.jobs.registry import Job, Periodic
from core.kernel.settings import Settings
from core.security.rbac import Permission
from plugins import hookspecs
from plugins.sdk.info import PROJECT, PluginInfo

__all__ = ["ENTRY_POINT_GROUP", "PluginError", "PluginHost"]

log = logging.getLogger("huike.plugins")

#: Third-party packages declare their plugin under this entry-point group.
ENTRY_POINT_GROUP = "huike.plugins"


class PluginError(RuntimeError):
    """A plugin cannot be loaded: no ``plugin_info``, a name taken twice, a hook that does
    not match its specification, a permission or job outside its namespace."""


class PluginHost:
    """The installed plugins of this process, by name."""

    def __init__(self, *, trace: bool = False, settings: Settings | None = None) -> None:
        #: Given to hooks as ``ctx.settings`` (``Settings()`` defaults when loaded without).
        self.settings = settings or Settings()
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self._objects: dict[str, object] = {}
        if trace:
            self.pm.trace.root.setwriter(lambda message: log.info("plugin hook: %s", message.rstrip()))
            self.pm.enable_tracing()
        self.trace = trace
        # Cached per (hook, enabled set): a tenant's hooks are resolved once per set.
        self._subset = lru_cache(maxsize=1024)(self._subset_uncached)

    @classmethod
    def load(
        cls,
        first_party: Iterable[object] = (),
        *,
        entry_points: bool = True,
        blocked: Sequence[str] = (),
        trace: bool = False,
        settings: Settings | None = None,
    ) -> PluginHost:
        """Register the first-party plugins, then (``entry_points``) every plugin installed
        under :data:`ENTRY_POINT_GROUP`, skipping the ``blocked`` names.

        Raises:
            PluginError: a plugin is malformed; the process must not start with it.
        """
        host = cls(trace=trace, settings=settings)
        for plugin in first_party:
            host.add(plugin, blocked=blocked)
        if entry_points:
            for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
                if entry.name in blocked:
                    continue
                try:
                    plugin = entry.load()
                except Exception as exc:
                    raise PluginError(f"plugin entry point {entry.name!r} failed to load: {exc}") from exc
                host.add(plugin, blocked=blocked)
        try:
            host.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(str(exc)) from exc
        return host

    def add(self, plugin: object, *, blocked: Sequence[str] = ()) -> PluginInfo | None:
        """Register one plugin object (a module or an instance with hook implementations)."""
        label = getattr(plugin, "__name__", None) or type(plugin).__name__
        if any(known is plugin for known in self._objects.values()):
            return None  # listed and also installed: the same module, loaded once
        try:
            self.pm.register(plugin, name=f"loading:{id(plugin)}")
        except (pluggy.PluginValidationError, ValueError) as exc:
            raise PluginError(f"plugin {label}: {exc}") from exc
        impls = [i for i in self.pm.hook.plugin_info.get_hookimpls() if i.plugin is plugin]
        self.pm.unregister(plugin)
        if not impls:
            raise PluginError(f"plugin {label} has no @hookimpl plugin_info()")
        info = impls[0].function()
        if not isinstance(info, PluginInfo):
            raise PluginError(f"plugin {label}: plugin_info() must return plugins.sdk.PluginInfo")
        if info.name in blocked:
            return None
        if info.name in self.infos:
            raise PluginError(f"two plugins are named {info.name!r}")
        self.pm.register(plugin, name=info.name)
        self.infos[info.name] = info
        self._objects[info.name] = plugin
        self._subset.cache_clear()
        return info

    @property
    def names(self) -> list[str]:
        return sorted(self.infos)

    def info(self, name: str) -> PluginInfo | None:
        return self.infos.get(name)

    # Registration, at start-up.

    def permissions(self) -> dict[str, list[Permission]]:
        """Each plugin's permissions, all named ``<plugin>.<action>``."""
        found: dict[str, list[Permission]] = {}
        for name, result in self._each("register_permissions"):
            permissions = list(result or [])
            for permission in permissions:
                if permission.name.partition(".")[0] != name:
                    raise PluginError(
                        f"plugin {name}: permission {permission.name!r} must start with {name}."
                    )
            found[name] = permissions
        return found

    def scopes(self) -> dict[str, list[AppScope]]:
        """Each plugin's OAuth scopes (checked against its permissions by the catalogue)."""
        return {name: list(result or []) for name, result in self._each("register_scopes")}

    def routes(self) -> dict[str, list[Any]]:
        return {name: list(result or []) for name, result in self._each("register_routes")}

    def jobs(self) -> dict[str, list[Job[Any] | Periodic]]:
        found: dict[str, list[Job[Any] | Periodic]] = {}
        for name, result in self._each("register_jobs"):
            items = list(result or [])
            for item in items:
                if not isinstance(item, Job | Periodic):
                    raise PluginError(f"plugin {name}: register_jobs() returned {item!r}")
                if not item.name.startswith(name + "."):
                    raise PluginError(f"plugin {name}: job {item.name!r} must start with {name}.")
            found[name] = items
        return found

    def migration_locations(self) -> list[str]:
        return [str(result) for _, result in self._each("register_migrations") if result]

    def _each(self, hook: str) -> list[tuple[str, Any]]:
        """Call a registration hook on every plugin, one by one, naming the plugin."""
        results = []
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            try:
                results.append((impl.plugin_name, impl.function()))
            except PluginError:
                raise
            except Exception as exc:
                raise PluginError(f"plugin {impl.plugin_name}: {hook}() failed: {exc}") from exc
        return results

    # Per-tenant dispatch.

    def implementations(self, hook: str, enabled: frozenset[str]) -> Sequence[HookImpl]:
        """The implementations of ``hook`` among the ``enabled`` plugins, in call order
        (pluggy's: the last registered first, ``tryfirst``/``trylast`` respected)."""
        if not enabled:
            return ()
        return tuple(reversed(self._subset(hook, enabled).get_hookimpls()))

    def has_implementations(self, hook: str) -> bool:
        return bool(getattr(self.pm.hook, hook).get_hookimpls())

    def implements(self, plugin: str, hook: str) -> bool:
        return any(i.plugin_name == plugin for i in getattr(self.pm.hook, hook).get_hookimpls())

    def _subset_uncached(self, hook: str, enabled: frozenset[str]) -> HookCaller:
        others = [obj for name, obj in self._objects.items() if name not in enabled]
        return self.pm.subset_hook_caller(hook, remove_plugins=others)
