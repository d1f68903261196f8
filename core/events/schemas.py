"""The base of every domain event: a typed, versioned msgspec Struct."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

__all__ = ["DomainEvent"]


class DomainEvent(msgspec.Struct, frozen=True, kw_only=True):
    """Subclass it in the emitting package's ``events.py``::

        class InvitationCreated(DomainEvent, frozen=True, kw_only=True):
            name: ClassVar[str] = "members.invitation_created"
            version: ClassVar[int] = 1
            invitation_id: uuid.UUID

    ``name`` is the stable type handlers subscribe to; ``version`` goes up when the payload
    changes shape, and :meth:`upcast` turns an older stored payload into the current one.
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1

    @classmethod
    def upcast(cls, version: int, payload: dict[str, Any]) -> dict[str, Any]:
        """Return ``payload`` (recorded at ``version``) in the shape of the current version."""
        return payload

    @classmethod
    def decode(cls, version: int, payload: dict[str, Any]) -> DomainEvent:
        if version > cls.version:
            raise ValueError(f"{cls.name} v{version} is newer than this code (v{cls.version})")
        if version < cls.version:
            payload = cls.upcast(version, payload)
        return msgspec.convert(payload, cls)
