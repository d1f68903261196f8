"""Loading plugins: what the manager accepts and what stops the start with a clear error."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterable
from typing import Any

import msgspec
import pytest

from core.jobs.registry import job
from core.kernel.settings import Settings
from core.security.rbac import Permission
from frontend_api.services import load_plugins, permission_registry
from plugins.manager import PluginError, PluginHost
from plugins.sdk import PluginInfo, hookimpl


class Named:
    def __init__(self, name: str) -> None:
        self.name = name

    @hookimpl
    def plugin_info(self) -> PluginInfo:
        return PluginInfo(name=self.name, title=self.name.title())


def test_the_entry_point_plugin_is_found_and_first_party_ones_are_registered(settings: Settings) -> None:
    host = load_plugins(settings)
    assert "creditcheck" in host.names
    assert host.migration_locations()[0].endswith("huike_creditcheck/migrations")
    blocked = load_plugins(dataclasses.replace(settings, plugins_blocked=("creditcheck",)))
    assert "creditcheck" not in blocked.names


def test_a_plugin_without_plugin_info_is_refused() -> None:
    class Anonymous:
        @hookimpl
        def register_permissions(self) -> list[Permission]:
            return []

    with pytest.raises(PluginError, match="has no @hookimpl plugin_info"):
        PluginHost.load([Anonymous()], entry_points=False)


def test_two_plugins_with_one_name_are_refused() -> None:
    with pytest.raises(PluginError, match="two plugins are named 'twin'"):
        PluginHost.load([Named("twin"), Named("twin")], entry_points=False)


def test_a_hook_implementation_needs_the_marker_and_the_specified_arguments() -> None:
    class Unmarked(Named):
        def before_customer_create(self, ctx: Any, customer: Any) -> str:
            return "never called: not marked"

    host = PluginHost.load([Unmarked("quiet")], entry_points=False)
    assert host.implementations("before_customer_create", frozenset({"quiet"})) == ()

    class WrongArguments(Named):
        @hookimpl
        def before_customer_create(self, ctx: Any, client: Any) -> None:
            return None

    with pytest.raises(PluginError, match="client"):
        PluginHost.load([WrongArguments("wrong")], entry_points=False)

    class UnknownHook(Named):
        @hookimpl
        def before_everything(self) -> None:
            return None

    with pytest.raises(PluginError, match="before_everything"):
        PluginHost.load([UnknownHook("unknown")], entry_points=False)


def test_permissions_and_jobs_must_carry_the_plugins_name() -> None:
    class Grabby(Named):
        @hookimpl
        def register_permissions(self) -> Iterable[Permission]:
            return [Permission("customers.delete_all", "Not yours.")]

    with pytest.raises(PluginError, match=re.escape("must start with grabby.")):
        PluginHost.load([Grabby("grabby")], entry_points=False).permissions()

    class Clash(Named):
        @hookimpl
        def register_permissions(self) -> Iterable[Permission]:
            return [Permission("clash.read", "Read.")]

    first, second = Clash("clash"), Clash("clash")
    host = PluginHost.load([first], entry_points=False)
    registry = permission_registry(host)
    assert "clash.read" in registry
    with pytest.raises(ValueError, match="already registered"):
        registry.register("plugin other", second.register_permissions())

    class Payload(msgspec.Struct):
        n: int = 0

    @job("core.cleanup", Payload)
    async def stray(ctx: Any, payload: Payload) -> None: ...

    class Jobs(Named):
        @hookimpl
        def register_jobs(self) -> list[Any]:
            return [stray]

    with pytest.raises(PluginError, match=re.escape("must start with jobsy.")):
        PluginHost.load([Jobs("jobsy")], entry_points=False).jobs()


def test_hook_calls_are_traced_when_asked(caplog: pytest.LogCaptureFixture) -> None:
    host = PluginHost.load([Named("traced")], entry_points=False, trace=True)
    with caplog.at_level(logging.INFO, logger="huike.plugins"):
        host.pm.hook.plugin_info()
    assert any("plugin_info" in record.getMessage() for record in caplog.records)
