"""docs/plugins/hooks.md lists every hook with its exact signature, in its kind's section."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

from plugins import hookspecs

REFERENCE = Path(__file__).parents[2] / "docs" / "plugins" / "hooks.md"


def signature(hook: Any) -> str:
    """``name(param: Type, ...) -> Return``, as the reference writes it."""
    sig = inspect.signature(hook)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"{hook.__name__}({params}) -> {sig.return_annotation}"


def test_every_hook_is_documented_with_its_signature_under_its_kind() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.MULTILINE)
    documented = {
        section.split(" ", 1)[0].lower(): re.findall(r"^### `([^`]+)`", section, flags=re.MULTILINE)
        for section in sections[1:]
    }
    for kind, names in hookspecs.HOOK_KINDS.items():
        assert documented.get(kind) == [signature(getattr(hookspecs, n)) for n in names], kind


def test_every_specified_hook_has_a_kind() -> None:
    specified = {
        name for name, value in vars(hookspecs).items() if callable(value) and hasattr(value, "huike_spec")
    }
    assert specified == {n for names in hookspecs.HOOK_KINDS.values() for n in names}
