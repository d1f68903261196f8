"""Every domain event type this process knows: the subclasses of ``DomainEvent`` that the
imported domains define. Plugins and webhooks subscribe by these names."""

from __future__ import annotations

from core.events.schemas import DomainEvent

__all__ = ["event_types"]


def event_types() -> dict[str, type[DomainEvent]]:
    """By name, sorted. Only concrete events (those that declare a ``name``) are listed;
    call it after the domains are imported (the composition root does)."""
    found: dict[str, type[DomainEvent]] = {}
    pending = list(DomainEvent.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        name = cls.__dict__.get("name")
        if isinstance(name, str):
            if name in found and found[name] is not cls:
                raise ValueError(f"event name {name!r} is defined twice")
            found[name] = cls
    return dict(sorted(found.items()))
