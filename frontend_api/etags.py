"""ETags and ``If-Match``: the HTTP face of :mod:`core.kernel.concurrency`.

A changeable resource answers ``GET`` (and ``PATCH``) with ``ETag: "<version>"``; its list
items carry ``version``. ``PATCH``/``PUT``/``DELETE`` take an optional ``If-Match`` with that
ETag: when the resource changed meanwhile the answer is ``412 version_mismatch`` and
nothing is written. ``If-Match: *`` (or no header) means "whatever the current version".

A route uses it in two lines::

    async def update(self, ..., if_match: IfMatchDep) -> Response[RoleView]:
        return etagged(await roles.update_role(..., expected_version=if_match.version()))
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from litestar import Request, Response
from litestar.di import NamedDependency

from core.kernel.errors import DomainError

__all__ = ["IfMatch", "IfMatchDep", "etag", "etagged", "provide_if_match"]

_STRONG = re.compile(r'^"(\d{1,18})"$')


class _HasVersion(Protocol):
    @property
    def version(self) -> int: ...


V = TypeVar("V", bound=_HasVersion)


def etag(version: int) -> str:
    return f'"{version}"'


def etagged(view: V, status_code: int = 200) -> Response[V]:
    """Answer ``view`` with its ETag."""
    return Response(view, status_code=status_code, headers={"ETag": etag(view.version)})


@dataclass(frozen=True, slots=True)
class IfMatch:
    """The raw ``If-Match`` header; :meth:`version` checks it when the handler asks."""

    raw: str | None

    def version(self) -> int | None:
        """The version the client last saw, or None to skip the check.

        Raises:
            DomainError: the header is not one strong ETag of ours (``"3"``) nor ``*``.
        """
        if self.raw is None or self.raw.strip() in ("", "*"):
            return None
        match = _STRONG.match(self.raw.strip())
        if match is None:
            raise DomainError(
                'If-Match must be the ETag of the resource as returned by GET (such as "3"), or *.',
                code="invalid_if_match",
                field="If-Match",
            )
        return int(match.group(1))


def provide_if_match(request: Request[Any, Any, Any]) -> IfMatch:
    """Never fails (see ``deps.provide_page``): the handler validates the value."""
    return IfMatch(request.headers.get("if-match"))


IfMatchDep = NamedDependency[IfMatch]
