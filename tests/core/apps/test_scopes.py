"""The scope table: every core permission is decided (in a scope or kept from apps), a scope
never names a permission that does not exist, and scopes map to grants at record scope all."""

from __future__ import annotations

import pytest

from core.apps.scopes import CORE_SCOPES, NOT_FOR_APPS, AppScope, ScopeCatalogue
from core.kernel.errors import Invalid
from frontend_api.services import app_event_names, permission_registry


def test_every_core_permission_is_in_a_scope_or_kept_from_apps_on_purpose() -> None:
    registry = permission_registry()
    in_scopes = {p for scope in CORE_SCOPES for p in scope.permissions}
    undecided = sorted(set(registry.names()) - in_scopes - NOT_FOR_APPS)
    assert undecided == [], "add each to a scope in core/apps/scopes.py or to NOT_FOR_APPS"
    assert in_scopes & NOT_FOR_APPS == set()
    assert set(registry.names()) >= NOT_FOR_APPS, "NOT_FOR_APPS names a permission that no longer exists"


def test_no_scope_lets_an_app_administer_people_credentials_or_apps() -> None:
    for scope in CORE_SCOPES:
        assert not {p for p in scope.permissions if p.split(".")[0] in {"roles", "api_keys", "apps", "audit"}}
        assert "members.manage" not in scope.permissions


def test_a_scope_naming_an_unknown_permission_is_refused_at_start_up() -> None:
    catalogue = ScopeCatalogue(permission_registry())
    with pytest.raises(ValueError, match="unknown permissions"):
        catalogue.register("plugin x", [AppScope("x:read", "X", "X", frozenset({"x.read"}))])
    with pytest.raises(ValueError, match="already declared"):
        catalogue.register("plugin x", [CORE_SCOPES[0]])
    with pytest.raises(ValueError, match="domain:access"):
        catalogue.register("plugin x", [AppScope("Bad Name", "X", "X", frozenset({"customers.read"}))])


def test_scopes_become_grants_at_record_scope_all() -> None:
    catalogue = ScopeCatalogue(permission_registry())
    assert catalogue.grants(["customers:write", "customers:read", "nope:read"]) == {
        "customers.create": "all",
        "customers.read": "all",
        "customers.update": "all",
    }
    assert catalogue.validate(["leads:read", "customers:read", "leads:read"], "scopes") == [
        "customers:read",
        "leads:read",
    ]
    with pytest.raises(Invalid) as refused:
        catalogue.validate(["customers:read", "customers:admin"], "scopes")
    assert refused.value.code == "unknown_scope"


def test_a_domains_events_need_its_read_scope() -> None:
    catalogue = ScopeCatalogue(permission_registry())
    events = app_event_names()
    allowed = catalogue.events_allowed(["customers:read", "customers:write"], events)
    assert "customers.created" in allowed
    assert all(e.startswith("customers.") for e in allowed)
    assert catalogue.events_allowed(["customers:write"], events) == []
    assert "opportunities.won" in catalogue.events_allowed(["opportunities:read"], events)
