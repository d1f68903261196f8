"""The entity types that carry custom fields, in one registry the composition root fills.

Each domain that opts in declares a :class:`CustomFieldEntity` and registers it (as
permissions are registered); the admin API refuses any entity type not registered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.customfields.query import has_value
from core.kernel.errors import NotFound

__all__ = [
    "BUILTIN_ENTITIES",
    "CustomFieldEntity",
    "EntityRegistry",
    "ValuesProbe",
    "values_in_column",
]

#: ``await probe(session, key)``: does any record of the current tenant hold a value for
#: ``key``? Type changes are refused while it says yes.
ValuesProbe = Callable[[AsyncSession, str], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class CustomFieldEntity:
    name: str
    label_zh: str
    label_en: str
    #: None while no table stores this entity's values (nothing can exist yet).
    values_exist: ValuesProbe | None = None


def values_in_column(column: InstrumentedAttribute[Any]) -> ValuesProbe:
    """The probe for an entity whose values live in the JSON ``column`` of its model."""

    async def probe(session: AsyncSession, key: str) -> bool:
        found = await session.scalar(select(column).where(has_value(column, key)).limit(1))
        return found is not None

    return probe


class EntityRegistry:
    """The entity types of this process, by name; a name is registered once."""

    def __init__(self) -> None:
        self._entities: dict[str, CustomFieldEntity] = {}
        self._owners: dict[str, str] = {}

    def register(self, owner: str, entities: Iterable[CustomFieldEntity]) -> None:
        """Add ``entities`` declared by ``owner``.

        Raises:
            ValueError: a name is already registered (by ``owner`` or someone else).
        """
        for entity in entities:
            if entity.name in self._entities:
                raise ValueError(
                    f"{owner}: custom-field entity {entity.name!r} is already registered by "
                    f"{self._owners[entity.name]}"
                )
            self._entities[entity.name] = entity
            self._owners[entity.name] = owner

    def get(self, name: str) -> CustomFieldEntity:
        """The entity ``name``; an unknown one is "not found" (it is a path segment)."""
        try:
            return self._entities[name]
        except KeyError:
            raise NotFound("No such entity type has custom fields.") from None

    def __iter__(self) -> Iterator[CustomFieldEntity]:
        return iter(self._entities.values())


#: The CRM entities. Their domains replace ``values_exist`` with
#: ``values_in_column(Model.custom_fields)`` when their tables exist.
BUILTIN_ENTITIES = [
    CustomFieldEntity("customer", "客户", "Customer"),
    CustomFieldEntity("contact", "联系人", "Contact"),
    CustomFieldEntity("lead", "线索", "Lead"),
    CustomFieldEntity("opportunity", "商机", "Opportunity"),
]
