"""Who is acting, and from where: the audit context of the current request, command or job.

The API guard sets it once the principal is known, the CLI runs as ``system``, and a job
wraps its work in :func:`audit_context`. With nothing set, the actor is ``system``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace

from core.kernel.logs import request_id_var

__all__ = [
    "ActorType",
    "AuditContext",
    "audit_context",
    "current_audit_context",
    "set_audit_context",
]


class ActorType:
    USER = "user"
    API_KEY = "api_key"
    #: An installed app calling with an OAuth access token; the actor id is the app's id.
    APP = "app"
    PLUGIN = "plugin"
    SYSTEM = "system"
    PLATFORM_ADMIN = "platform_admin"
    ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class AuditContext:
    actor_type: str = ActorType.SYSTEM
    actor_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None

    def with_actor(self, actor_type: str, actor_id: uuid.UUID | str | None) -> AuditContext:
        return replace(self, actor_type=actor_type, actor_id=None if actor_id is None else str(actor_id))


_context: ContextVar[AuditContext | None] = ContextVar("huike_audit_context", default=None)


def current_audit_context() -> AuditContext:
    """The context in force; the request id falls back to the one of the log lines."""
    context = _context.get() or AuditContext()
    if context.request_id is None:
        request_id = request_id_var.get()
        if request_id:
            context = replace(context, request_id=request_id)
    return context


def set_audit_context(context: AuditContext) -> None:
    """Set the context for the rest of the current task (a request's task ends with it)."""
    _context.set(context)


@contextmanager
def audit_context(
    actor_type: str = ActorType.SYSTEM,
    actor_id: uuid.UUID | str | None = None,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
    request_id: str | None = None,
) -> Iterator[AuditContext]:
    """Run the block as ``actor_type``/``actor_id`` (jobs, plugins, the CLI).

    Example:
        >>> with audit_context(ActorType.PLUGIN, "mailchimp-sync"):
        ...     pass
    """
    context = AuditContext(
        actor_type=actor_type,
        actor_id=None if actor_id is None else str(actor_id),
        ip=ip,
        user_agent=user_agent,
        request_id=request_id,
    )
    token = _context.set(context)
    try:
        yield context
    finally:
        _context.reset(token)
