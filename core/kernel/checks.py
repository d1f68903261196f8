"""Checks that an outer layer runs inside a core transaction, before it commits.

A plugin may veto a change (a customer created, an opportunity won). Core declares the seam
and calls :func:`check` at each checkpoint; the composition root plugs the implementation in
through the session's ``info`` (as it does the keyring), so core never imports plugins. A
veto raises :class:`Vetoed`, the caller's transaction rolls back, and nothing is written.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from core.kernel.errors import Invalid

__all__ = ["CHECKER", "Checker", "Vetoed", "check"]

#: The key of the checker in ``session.info``.
CHECKER = "checker"


class Vetoed(Invalid):
    """A plugin refused the change; the problem names the plugin and carries its message."""

    code = "vetoed"
    title = "Refused by a plugin"

    def __init__(self, plugin: str, message: str) -> None:
        super().__init__(
            f"The plugin {plugin!r} refused this change: {message}",
            extensions={"plugin": plugin, "plugin_message": message},
        )
        self.plugin = plugin


class Checker(Protocol):
    async def __call__(self, session: AsyncSession, checkpoint: str, **subject: object) -> None:
        """Run every check registered for ``checkpoint``; raise :class:`Vetoed` to refuse."""


async def check(session: AsyncSession, checkpoint: str, **subject: object) -> None:
    """Ask the outer layers whether the change in ``session``'s transaction may commit.

    ``checkpoint`` names the moment (``before_customer_create``); ``subject`` is what the
    check sees, as keyword arguments.

    Raises:
        Vetoed: a check refused.
    """
    checker: Checker | None = session.info.get(CHECKER)
    if checker is not None:
        await checker(session, checkpoint, **subject)
