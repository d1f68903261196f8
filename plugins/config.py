"""A tenant's configuration of a plugin: validated against the plugin's Struct, split into
plain fields and secret fields (stored encrypted), and shown with the secrets masked."""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec

from core.kernel.errors import Invalid
from plugins.models import TenantPlugin
from plugins.sdk.info import PluginInfo

__all__ = ["MASK", "decode", "merge", "public", "secret_fields", "store", "validate"]

#: What a secret that is set looks like in every answer.
MASK = "********"
_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_NAMED = re.compile(r"(?:missing required|unknown) field `(?P<name>[^`]+)`")


def secret_fields(config_type: type[msgspec.Struct] | None) -> frozenset[str]:
    if config_type is None:
        return frozenset()
    info = msgspec.inspect.type_info(config_type)
    if not isinstance(info, msgspec.inspect.StructType):
        raise TypeError(f"a plugin's config must be a msgspec Struct, not {config_type!r}")
    return frozenset(f.encode_name for f in info.fields if _is_secret(f.type))


def _is_secret(field_type: msgspec.inspect.Type) -> bool:
    extra = getattr(field_type, "extra", None) or {}
    if extra.get("secret"):
        return True
    inner = getattr(field_type, "types", ())  # Optional[...] is a UnionType
    return any(_is_secret(t) for t in inner)


def validate(info: PluginInfo, raw: dict[str, Any]) -> msgspec.Struct | None:
    """``raw`` as the plugin's config Struct, or a 422 naming the field and the reason."""
    if info.config is None:
        if raw:
            raise Invalid(f"The plugin {info.name!r} takes no configuration.", field="config")
        return None
    try:
        return msgspec.convert(raw, info.config, strict=False)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _AT.search(message)
        where = match.group("path").lstrip(".") if match else ""
        named = _NAMED.search(message)
        if named:
            where = f"{where}.{named.group('name')}" if where else named.group("name")
        reason = _AT.sub("", message)
        field = f"config.{where}" if where else "config"
        raise Invalid(reason, field=field, code="invalid_config") from exc


def merge(info: PluginInfo, row: TenantPlugin | None, changes: dict[str, Any]) -> dict[str, Any]:
    """The stored configuration with ``changes`` applied; a secret sent back masked (or left
    out) keeps its stored value, so clients can round-trip what they read."""
    current = _raw(info, row) if row is not None else {}
    secrets = secret_fields(info.config)
    for key, value in changes.items():
        if key in secrets and value == MASK:
            continue
        current[key] = value
    return current


def store(info: PluginInfo, row: TenantPlugin, config: msgspec.Struct | None) -> None:
    """Write ``config`` into ``row``: plain fields in clear, secret fields encrypted."""
    values: dict[str, Any] = msgspec.to_builtins(config) if config is not None else {}
    secrets = secret_fields(info.config)
    row.config = {k: v for k, v in values.items() if k not in secrets}
    hidden = {k: v for k, v in values.items() if k in secrets and v is not None}
    row.secrets = json.dumps(hidden, sort_keys=True) if hidden else None


def decode(info: PluginInfo, row: TenantPlugin) -> msgspec.Struct | None:
    """The stored configuration, secrets in clear, for the plugin's own hooks."""
    if info.config is None:
        return None
    return msgspec.convert(_raw(info, row), info.config, strict=False)


def public(info: PluginInfo, row: TenantPlugin | None) -> dict[str, Any]:
    """The configuration as a tenant admin reads it: every secret that is set is masked."""
    if row is None:
        return {}
    shown: dict[str, Any] = dict(row.config or {})
    for key in json.loads(row.secrets) if row.secrets else {}:
        shown[key] = MASK
    return shown


def _raw(info: PluginInfo, row: TenantPlugin) -> dict[str, Any]:
    values: dict[str, Any] = dict(row.config or {})
    if row.secrets:
        values.update(json.loads(str(row.secrets)))
    return values
