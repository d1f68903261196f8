"""Optimistic concurrency: one mechanism for every resource that can be changed.

A model that can be changed inherits :class:`Versioned`. Its ``version`` column is the
mapper's ``version_id_col``: SQLAlchemy adds ``AND version = :loaded`` to every UPDATE and
DELETE of the row and raises ``StaleDataError`` when nothing matched, so a write based on a
stale read never lands, and it increments the version with every UPDATE.

Clients see the version as the ``ETag`` of the resource (``"<version>"``) and send it back
in ``If-Match``; the HTTP layer turns that into ``expected_version`` for the service, which
calls :func:`ensure_version` right after loading the row::

    role = await get_role(session, role_id)
    ensure_version(role, expected_version)   # 412 when someone changed it meanwhile
    ... change it ...
    touch(role)                              # only when no column of its own changed

The CRM domains (customers, orders...) use the very same three pieces.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from core.kernel.errors import PreconditionFailed

__all__ = ["Versioned", "ensure_version", "touch"]


class Versioned:
    """Mixin: a ``version`` counter, starting at 1, bumped by every UPDATE of the row."""

    version: Mapped[int] = mapped_column(default=1, server_default="1")

    @declared_attr.directive
    @classmethod
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


def ensure_version(obj: Versioned, expected_version: int | None) -> None:
    """Refuse the change when the client's copy (``If-Match``) is not the current one.

    ``expected_version`` None means the client sent no ``If-Match``: last write wins, but a
    write racing another one inside the database is still refused (``version_id_col``).

    Raises:
        PreconditionFailed: the stored version differs from ``expected_version``.
    """
    if expected_version is not None and obj.version != expected_version:
        raise PreconditionFailed(
            f"The resource changed since you read it (version {obj.version} now, "
            f"{expected_version} in If-Match); read it again and re-apply your change.",
            code="version_mismatch",
        )


def touch(obj: Versioned) -> None:
    """Bump the version although no column of the row itself changed (a change stored in a
    related table, such as a member's roles), so the ETag follows what the client sees."""
    obj.version = obj.version + 1
