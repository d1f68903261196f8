"""Tenant key rotation as a background job: ``huike keys rotate-tenant --background`` (or a
platform admin tool later) enqueues it; it commits batch by batch, so a worker that dies
midway leaves a rotation that the job's retry (or a rerun) continues."""

from __future__ import annotations

import logging

import msgspec

from core.crypto.service import rotate_tenant
from core.jobs.context import JobContext
from core.jobs.registry import job
from core.kernel.tenancy import current_tenant_id

__all__ = ["JOBS", "RotateTenantKeys", "rotate_tenant_keys"]

log = logging.getLogger("huike.crypto")


class RotateTenantKeys(msgspec.Struct, forbid_unknown_fields=True):
    batch_size: int = 500


@job("crypto.rotate_tenant_keys", RotateTenantKeys)
async def rotate_tenant_keys(ctx: JobContext, payload: RotateTenantKeys) -> None:
    """Re-encrypt the job's tenant under a new data key version. Each batch commits on its
    own (``ctx.db``) and records its cursor, so retries resume instead of starting over."""
    done = await rotate_tenant(ctx.db, current_tenant_id(), batch_size=payload.batch_size)
    log.info("tenant key rotation finished", extra={"to_version": done.to_version, "rows": done.rows_done})


JOBS = [rotate_tenant_keys]
