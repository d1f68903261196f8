"""What an activity can be about: a registry of subject types, each with a resolver.

Each domain whose records can carry activities registers a resolver for its subject type
(the composition root fills one :class:`SubjectRegistry`, as it does for permissions)::

    async def resolve_lead(session, principal, subject_id, permission) -> SubjectRef:
        lead = await lead_in_scope(session, principal, subject_id, leads.READ)  # NotFound if not
        return SubjectRef(customer_id=lead.customer_id, owner_id=lead.owner_id)

    registry.register("core.leads", {"lead": resolve_lead})

A resolver raises :class:`~core.kernel.errors.NotFound` when the subject is missing, in
another tenant or outside the caller's scope (one answer for all three). ``permission`` is
the activities permission being exercised (``activities.create`` or ``activities.update``);
a resolver may demand more of the subject for it, the built-in ones ask only that the caller
may read it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core.customers import permissions as customer_permissions
from core.customers.access import contact_customer_in_scope, customer_in_scope
from core.kernel.errors import one_of
from core.security.principal import Principal

__all__ = ["BUILTIN_SUBJECTS", "SubjectRef", "SubjectRegistry", "SubjectResolver"]


@dataclass(frozen=True, slots=True)
class SubjectRef:
    #: The customer the subject belongs to: drives the timeline and ``last_contacted_at``.
    customer_id: uuid.UUID | None
    #: Who owns the subject (the rep of the customer, lead or opportunity); None while nobody
    #: does (an unassigned lead).
    owner_id: uuid.UUID | None


#: ``await resolver(session, principal, subject_id, permission)``.
SubjectResolver = Callable[[AsyncSession, Principal, uuid.UUID, str], Awaitable[SubjectRef]]


class SubjectRegistry:
    """The subject types of this process, by name; a name is registered once."""

    def __init__(self) -> None:
        self._resolvers: dict[str, SubjectResolver] = {}
        self._owners: dict[str, str] = {}

    def register(self, owner: str, resolvers: Mapping[str, SubjectResolver]) -> None:
        """Add the ``resolvers`` (subject type → resolver) declared by ``owner``.

        Raises:
            ValueError: a subject type is already registered.
        """
        for name, resolver in resolvers.items():
            if name in self._resolvers:
                raise ValueError(
                    f"{owner}: activity subject {name!r} is already registered by {self._owners[name]}"
                )
            self._resolvers[name] = resolver
            self._owners[name] = owner

    def names(self) -> Iterable[str]:
        return tuple(self._resolvers)

    async def resolve(
        self,
        session: AsyncSession,
        principal: Principal,
        subject_type: str,
        subject_id: uuid.UUID,
        permission: str,
    ) -> SubjectRef:
        """The subject, checked by its domain.

        Raises:
            Invalid: ``subject_type`` is not registered (422 naming ``subject_type``).
            NotFound: the subject is missing or out of scope (404 naming ``subject_id``).
        """
        one_of(subject_type, tuple(sorted(self._resolvers)), "subject_type")
        return await self._resolvers[subject_type](session, principal, subject_id, permission)


async def resolve_customer(
    session: AsyncSession, principal: Principal, subject_id: uuid.UUID, permission: str
) -> SubjectRef:
    """Anyone who may read the customer may log an activity about it."""
    customer = await customer_in_scope(
        session, principal, subject_id, customer_permissions.READ, field="subject_id"
    )
    return SubjectRef(customer_id=customer.id, owner_id=customer.owner_id)


async def resolve_contact(
    session: AsyncSession, principal: Principal, subject_id: uuid.UUID, permission: str
) -> SubjectRef:
    """A contact is in scope when its customer is."""
    customer = await contact_customer_in_scope(
        session, principal, subject_id, customer_permissions.READ, field="subject_id"
    )
    return SubjectRef(customer_id=customer.id, owner_id=customer.owner_id)


#: The subjects of the customers domain (registered by the composition root).
BUILTIN_SUBJECTS: dict[str, SubjectResolver] = {"customer": resolve_customer, "contact": resolve_contact}
