"""The import and undo jobs: each commits batch by batch through ``ctx.db`` (never through
``ctx.session``), so a retry resumes from the last committed batch."""

from __future__ import annotations

import uuid

import msgspec

from core.imports.runner import fail_import, run_import, undo_import
from core.jobs.context import JobContext
from core.jobs.registry import job
from core.kernel.errors import DomainError
from core.kernel.tenancy import current_tenant_id

__all__ = ["JOBS", "ImportJob", "run", "undo"]


class ImportJob(msgspec.Struct, forbid_unknown_fields=True):
    import_id: uuid.UUID


@job("imports.run", ImportJob)
async def run(ctx: JobContext, payload: ImportJob) -> None:
    """Run or dry-run an import. A refusal (the uploader lost the permission, an unreadable
    file) fails the import at once; anything else is retried, and fails it on the last try."""
    tenant_id = current_tenant_id()
    try:
        await run_import(ctx.db, tenant_id, payload.import_id, batch_size=ctx.settings.import_batch_rows)
    except DomainError as exc:
        await fail_import(ctx.db, tenant_id, payload.import_id, exc)
    except Exception as exc:
        if ctx.attempt > ctx.settings.job_max_retries:
            await fail_import(
                ctx.db, tenant_id, payload.import_id, f"{type(exc).__name__}: the import stopped."
            )
        raise


@job("imports.undo", ImportJob)
async def undo(ctx: JobContext, payload: ImportJob) -> None:
    """Undo an import, batch by batch (a retry continues with what is left)."""
    await undo_import(
        ctx.db, current_tenant_id(), payload.import_id, batch_size=ctx.settings.import_batch_rows
    )


JOBS = [run, undo]
