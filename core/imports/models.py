"""Tables of the imports domain: an import batch, its uploaded file (encrypted, in chunks),
its row errors, and what it wrote (with encrypted before-images, for undo)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.crypto.fields import encrypted_column
from core.kernel.clock import utcnow
from core.kernel.concurrency import Versioned
from core.kernel.models import Base, JSONType, TenantOwned

__all__ = ["ImportBatch", "ImportChunk", "ImportRecord", "ImportRowError", "ImportStatus", "Policy"]


class ImportStatus:
    #: Uploaded; waiting for a dry run or a run.
    QUEUED = "queued"
    VALIDATING = "validating"
    #: A dry run finished: the errors are listed; nothing was written.
    VALIDATED = "validated"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    UNDOING = "undoing"
    UNDONE = "undone"
    ALL = (QUEUED, VALIDATING, VALIDATED, RUNNING, DONE, FAILED, UNDOING, UNDONE)


class Policy:
    """What a row that duplicates an existing record does."""

    SKIP = "skip"
    UPDATE = "update"
    CREATE = "create"
    ALL = (SKIP, UPDATE, CREATE)


class ImportBatch(Versioned, TenantOwned, Base):
    """One uploaded sheet and what became of it. Its counters are the progress."""

    __tablename__ = "imports"
    __table_args__ = (
        Index("ix_imports_tenant_id_created_at", "tenant_id", "created_at"),
        CheckConstraint("entity IN ('customer', 'contact', 'lead')", name="entity"),
        CheckConstraint("policy IN ('skip', 'update', 'create')", name="policy"),
    )

    entity: Mapped[str] = mapped_column(String(20))
    #: The file's name as uploaded (shown to people; not a path anywhere).
    filename: Mapped[str] = mapped_column(String(255))
    file_format: Mapped[str] = mapped_column(String(10))
    #: CSV only: the text encoding found (utf-8, utf-8-sig, gb18030).
    encoding: Mapped[str | None] = mapped_column(String(20))
    size_bytes: Mapped[int] = mapped_column(default=0)
    #: Dropped once a real run has finished (the file is not needed any more).
    file_purged: Mapped[bool] = mapped_column(default=False)
    headers: Mapped[list[str]] = mapped_column(JSONType, default=list)
    #: ``{"<column index>": "<field>"}``.
    mapping: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    policy: Mapped[str] = mapped_column(String(10), default=Policy.SKIP)
    #: Defaults for rows that leave them empty: ``kind`` of customers, the owner.
    defaults: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    dry_run: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(String(20), default=ImportStatus.QUEUED)
    #: The person who uploaded it: the run uses their permissions and scope.
    created_by: Mapped[uuid.UUID] = mapped_column()
    total_rows: Mapped[int | None] = mapped_column()
    processed_rows: Mapped[int] = mapped_column(default=0)
    created_count: Mapped[int] = mapped_column(default=0)
    updated_count: Mapped[int] = mapped_column(default=0)
    skipped_count: Mapped[int] = mapped_column(default=0)
    failed_count: Mapped[int] = mapped_column(default=0)
    #: Undo: records deleted or restored, and those kept because someone changed them since.
    undone_count: Mapped[int] = mapped_column(default=0)
    kept_count: Mapped[int] = mapped_column(default=0)
    #: Why the whole run failed (not a row's error).
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ImportChunk(TenantOwned, Base):
    """A piece of the uploaded file, encrypted with the tenant's data key (base64 inside the
    ciphertext, so key rotation and crypto-shredding treat it like any encrypted column)."""

    __tablename__ = "import_chunks"
    #: The bytes of a file are not a business record; the import's own entries say who
    #: uploaded what.
    __audited__: ClassVar[bool] = False
    __table_args__ = (
        # Deferred: an upload stores the file's chunks as they arrive and its import row last,
        # once the whole form (entity, mapping...) has been read, in the same transaction.
        ForeignKeyConstraint(
            ["tenant_id", "import_id"],
            ["imports.tenant_id", "imports.id"],
            ondelete="CASCADE",
            deferrable=True,
            initially="DEFERRED",
        ),
        UniqueConstraint("tenant_id", "import_id", "seq"),
    )

    import_id: Mapped[uuid.UUID] = mapped_column()
    seq: Mapped[int] = mapped_column()
    data: Mapped[str] = encrypted_column()


class ImportRowError(TenantOwned, Base):
    """A row that could not be imported (or would not be, in a dry run), and why. Reasons
    never quote the cell's value: it may be personal data."""

    __tablename__ = "import_errors"
    __audited__: ClassVar[bool] = False
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "import_id"], ["imports.tenant_id", "imports.id"], ondelete="CASCADE"
        ),
        Index("ix_import_errors_tenant_id_import_id_row", "tenant_id", "import_id", "row_number"),
    )

    import_id: Mapped[uuid.UUID] = mapped_column()
    #: The row's number in the sheet (the header is row 1).
    row_number: Mapped[int] = mapped_column()
    #: The field at fault (``phone``, ``custom_fields.budget``) and its column header.
    field: Mapped[str | None] = mapped_column(String(120))
    column: Mapped[str | None] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(60))
    reason: Mapped[str] = mapped_column(Text)


class ImportRecord(TenantOwned, Base):
    """A record the import created or updated. ``version_after`` is the record's version
    when the import left it, so undo can tell whether someone changed it since."""

    __tablename__ = "import_records"
    __audited__: ClassVar[bool] = False
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "import_id"], ["imports.tenant_id", "imports.id"], ondelete="CASCADE"
        ),
        Index("ix_import_records_tenant_id_import_id_row", "tenant_id", "import_id", "row_number"),
        Index("ix_import_records_tenant_id_entity_id", "tenant_id", "entity_id"),
        CheckConstraint("action IN ('created', 'updated')", name="action"),
    )

    import_id: Mapped[uuid.UUID] = mapped_column()
    row_number: Mapped[int] = mapped_column()
    #: ``customers``, ``contacts`` or ``leads``.
    entity_type: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[uuid.UUID] = mapped_column()
    action: Mapped[str] = mapped_column(String(10))
    version_after: Mapped[int] = mapped_column()
    #: Updates only: JSON of the changed fields' previous values (personal data: encrypted).
    before: Mapped[str | None] = encrypted_column(nullable=True)
    #: Undo: ``undone`` or ``kept`` (changed by someone since).
    undo_result: Mapped[str | None] = mapped_column(String(10))
