"""Field definitions as entity modules receive them, built without a database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from core.customfields.schemas import FieldView, Label, Option


def field(key: str, type: str, *options: str, **extra: Any) -> FieldView:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "entity": "customer",
        "key": key,
        "label": Label(zh=key, en=key),
        "type": type,
        "required": False,
        "options": [Option(key=o, label=Label(en=o.title())) for o in options],
        "position": 0,
        "archived": False,
        "created_at": datetime.now(UTC),
        "version": 1,
    }
    values.update(extra)
    return FieldView(**values)


#: One field of each type.
DEFINITIONS = [
    field("region", "text"),
    field("employees", "number"),
    field("budget", "money"),
    field("signed_on", "date"),
    field("tier", "single_select", "gold", "silver"),
    field("tags", "multi_select", "vip", "export", "gov"),
    field("active", "boolean"),
]
