"""How a plugin says who it is and what it can be configured with."""

from __future__ import annotations

import re
from typing import Any

import msgspec
import pluggy

__all__ = ["PROJECT", "SECRET", "PluginInfo", "hookimpl"]

#: The pluggy project name; hook implementations must carry its marker.
PROJECT = "huike"

#: Marks a hook implementation. Required: functions are never picked by their name alone.
hookimpl = pluggy.HookimplMarker(PROJECT)

#: Marks a configuration field as a secret: stored encrypted under the tenant's key, never
#: returned in clear (``api_key: Annotated[str, SECRET]``).
SECRET = msgspec.Meta(extra={"secret": True})

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


class PluginInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What the tenant admin sees in the list of available plugins.

    ``name`` is the stable identifier: it prefixes the plugin's routes
    (``/api/v1/plugins/<name>/``), permissions and jobs, and names it in every error.
    ``config`` is a msgspec Struct type: a tenant's configuration is validated against it
    when the tenant enables or configures the plugin, and its JSON schema is published.
    """

    name: str
    title: str
    description: str = ""
    version: str = "0"
    #: The title in Chinese, shown to tenants whose language is zh-CN.
    title_zh: str | None = None
    config: type[msgspec.Struct] | None = None
    #: A first-party plugin ships with Huike; any other came through an entry point.
    first_party: bool = False

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"plugin name {self.name!r} must match {_NAME.pattern}")

    def config_schema(self) -> dict[str, Any]:
        if self.config is None:
            return {"type": "object", "properties": {}, "additionalProperties": False}
        schema: dict[str, Any] = msgspec.json.schema(self.config)
        return schema
