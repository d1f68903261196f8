"""What a batch of rows needs: the run's state (who imports, the mapping, the tenant's custom
fields and members), the cells of a row by field, cell-to-value conversions, and row errors.

Conversions only turn spreadsheet text into the shapes the API takes (``公司`` into
``company``, ``是`` into ``true``, a select's label into its key); the validation itself is
the customers' and leads' own (``prepare_customer``, ``prepare_lead``...).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.customfields.schemas import FieldView
from core.imports.files import Row
from core.imports.mapping import CUSTOM_PREFIX
from core.imports.models import ImportBatch, ImportRecord, ImportRowError
from core.kernel.errors import DomainError, FieldError, Invalid
from core.kernel.ids import new_id
from core.security.models import Membership, User
from core.security.principal import Principal

__all__ = ["Member", "RunState", "Tally", "cell_flag", "custom_values", "split_tags"]

_KINDS = {
    **dict.fromkeys(("公司", "企业", "单位", "company"), "company"),
    **dict.fromkeys(("个人", "个体", "individual", "person"), "individual"),
}
_STAGES = {
    **dict.fromkeys(("线索",), "lead"),
    **dict.fromkeys(("潜在客户", "意向客户"), "prospect"),
    **dict.fromkeys(("客户", "成交客户", "已成交"), "customer"),
    **dict.fromkeys(("流失", "流失客户"), "churned"),
}
_YES = {"是", "对", "有", "y", "yes", "true", "1", "√", "✓", "x"}
_NO = {"否", "不", "无", "n", "no", "false", "0", ""}
_SPLIT = re.compile(r"[,，;；、|/\n]+")
_PATH = re.compile(r"\$\.([\w.\[\]]+)")
_MISSING = re.compile(r"missing required field `(\w+)`")


@dataclass(frozen=True, slots=True)
class Member:
    user_id: uuid.UUID
    team_id: uuid.UUID | None


@dataclass
class Tally:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0


@dataclass
class RunState:
    """One run of one import (a job attempt): loaded once, used by every batch."""

    batch_id: uuid.UUID
    entity: str
    policy: str
    dry_run: bool
    headers: list[str]
    #: field -> column index
    columns: dict[str, int]
    defaults: dict[str, Any]
    principal: Principal
    definitions: list[FieldView]
    members: dict[str, Member]
    #: Customers: the contact fields (a customer row may carry its primary contact).
    contact_definitions: list[FieldView] = field(default_factory=list)
    #: Dry runs: 64-bit digests of the duplicate keys seen in earlier rows of the file (a real
    #: run finds earlier batches in the database instead).
    seen: set[int] = field(default_factory=set)
    tally: Tally = field(default_factory=Tally)
    errors: list[ImportRowError] = field(default_factory=list)
    #: What this batch wrote, as ``import_records`` rows (created ones; updates go as entities,
    #: their before-image is encrypted).
    records: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    async def load(
        cls, session: AsyncSession, batch: ImportBatch, principal: Principal, definitions: list[FieldView]
    ) -> RunState:
        rows = await session.execute(
            select(User.email, Membership.user_id, Membership.team_id)
            .join(User, User.id == Membership.user_id)
            .where(Membership.is_active.is_(True))
        )
        members = {email.lower(): Member(user_id, team_id) for email, user_id, team_id in rows}
        return cls(
            batch_id=batch.id,
            entity=batch.entity,
            policy=batch.policy,
            dry_run=batch.dry_run,
            headers=list(batch.headers),
            columns={f: int(i) for i, f in batch.mapping.items()},
            defaults=dict(batch.defaults),
            principal=principal,
            definitions=definitions,
            members=members,
        )

    def cells(self, row: Row) -> dict[str, str]:
        """The row's non-empty cells by field."""
        return {f: row[i] for f, i in self.columns.items() if i < len(row) and row[i]}  # type: ignore[misc]

    def column_of(self, field_name: str | None) -> str | None:
        """The header of the column that feeds ``field_name`` (as long as the report keeps)."""
        if field_name is None:
            return None
        index = self.columns.get(field_name)
        return self.headers[index][:200] if index is not None and index < len(self.headers) else None

    def fail(self, row: int, error: DomainError, fields: dict[str, str] | None = None) -> None:
        """Record ``error`` against row ``row``; ``fields`` renames the service's field names
        (``contacts[0].phone``) to the import's (``contact_phone``)."""
        self.tally.failed += 1
        items: list[FieldError | None] = list(error.errors) or [None]
        for item in items:
            name = item.field if item else None
            name = (fields or {}).get(name or "", name)
            self.errors.append(
                ImportRowError(
                    import_id=self.batch_id,
                    row_number=row,
                    field=name[:120] if name else None,
                    column=self.column_of(name),
                    code=error.code,
                    reason=(item.reason if item else error.message)[:1000],
                )
            )

    def note(self, row: int, field_name: str | None, code: str, reason: str) -> None:
        """A row left alone on purpose (a duplicate skipped): listed, not counted as failed."""
        self.errors.append(
            ImportRowError(
                import_id=self.batch_id,
                row_number=row,
                field=field_name,
                column=self.column_of(field_name),
                code=code,
                reason=reason,
            )
        )

    def record(
        self, row: int, entity_type: str, entity_id: uuid.UUID, version: int, before: str | None = None
    ) -> None:
        """Remember a record this batch wrote (inserted at the batch's end, in one statement)."""
        self.records.append(
            {
                "tenant_id": self.principal.tenant_id,
                "id": new_id(),
                "import_id": self.batch_id,
                "row_number": row,
                "entity_type": entity_type,
                "entity_id": entity_id,
                "action": "created" if before is None else "updated",
                "version_after": version,
                "before": before,
                "undo_result": None,
            }
        )

    def updated(
        self, row: int, entity_type: str, entity_id: uuid.UUID, version: int, before: dict[str, Any]
    ) -> ImportRecord:
        """The record of an update, with its before-image (an entity: the ORM encrypts it)."""
        return ImportRecord(
            import_id=self.batch_id,
            row_number=row,
            entity_type=entity_type,
            entity_id=entity_id,
            action="updated",
            version_after=version,
            before=json.dumps(before, ensure_ascii=False),
        )

    def owner(self, cells: dict[str, str]) -> Member | None:
        """The row's owner: its owner column (an email), else the import's default owner."""
        email = cells.get("owner")
        if email is not None:
            member = self.members.get(email.strip().lower())
            if member is None:
                raise Invalid("No active member has this email.", field="owner", code="unknown_owner")
            return member
        default = self.defaults.get("owner_id")
        if default is None:
            return None
        return next((m for m in self.members.values() if str(m.user_id) == str(default)), None)

    def first_time(self, keys: list[str]) -> bool:
        """Dry runs: False when one of ``keys`` was seen in an earlier row; remembers them."""
        digests = [int.from_bytes(hashlib.blake2b(k.encode(), digest_size=8).digest(), "big") for k in keys]
        fresh = not any(d in self.seen for d in digests)
        self.seen.update(digests)
        return fresh


def converted(data: dict[str, Any], type_: type[Any], *, strict: bool = True) -> Any:
    """``data`` as a ``type_`` command, checked as the API checks a body (lengths...);
    ``strict=False`` also takes form text for numbers and booleans (``"true"``).

    Raises:
        Invalid: naming the field at fault.
    """
    try:
        return msgspec.convert(data, type_, strict=strict)
    except msgspec.ValidationError as exc:
        message = str(exc)
        reason = message.split(" - at ")[0]
        missing = _MISSING.search(message)
        if missing:
            raise Invalid("A value is required.", field=missing.group(1), code="required") from None
        found = _PATH.search(message)
        field_name = found.group(1) if found else None
        if "length >= 1" in reason:  # an empty cell where a value is needed
            raise Invalid("A value is required.", field=field_name, code="required") from None
        raise Invalid(reason, field=field_name, code="validation_failed") from None


def kind_of(value: str | None, default: str) -> str:
    if value is None:
        return default
    return _KINDS.get(value.strip().lower(), value.strip().lower())


def stage_of(value: str | None) -> str | None:
    if value is None:
        return None
    return _STAGES.get(value.strip(), value.strip().lower())


def split_tags(value: str | None) -> list[str]:
    return [t.strip() for t in _SPLIT.split(value or "") if t.strip()]


def cell_flag(value: str | None, field_name: str) -> bool:
    text = (value or "").strip().lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise Invalid("Write yes or no (是/否).", field=field_name, code="invalid_boolean")


def _option(definition: FieldView, text: str) -> str:
    wanted = text.strip().lower()
    for option in definition.options:
        if wanted in {option.key.lower(), option.label.zh.lower(), option.label.en.lower()}:
            return option.key
    return text.strip()


def custom_values(cells: dict[str, str], definitions: list[FieldView]) -> dict[str, Any]:
    """The custom-field cells as the values the API takes (options by key or label, lists
    split on commas, 是/否 for booleans); ``validate`` checks them afterwards."""
    by_key = {d.key: d for d in definitions}
    values: dict[str, Any] = {}
    for name, text in cells.items():
        if not name.startswith(CUSTOM_PREFIX):
            continue
        key = name[len(CUSTOM_PREFIX) :]
        definition = by_key.get(key)
        value: Any = text
        if definition is not None:
            if definition.type == "single_select":
                value = _option(definition, text)
            elif definition.type == "multi_select":
                value = [_option(definition, part) for part in split_tags(text)]
            elif definition.type == "boolean":
                value = cell_flag(text, name)
            elif definition.type == "money":
                amount, _, currency = text.strip().partition(" ")
                value = {"amount": amount.replace(",", ""), "currency": currency.strip().upper() or "CNY"}
            elif definition.type == "number":
                value = text.replace(",", "").strip()
        values[key] = value
    return values
