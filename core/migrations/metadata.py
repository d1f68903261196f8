"""The complete metadata: importing this module imports every model module."""

from __future__ import annotations

import core.activities.models
import core.apps.models
import core.audit.models
import core.crypto.models
import core.customers.models
import core.customfields.models
import core.events.models
import core.imports.models
import core.jobs.models
import core.kernel.idempotency
import core.leads.models
import core.sales.models
import core.security.models
import core.webhooks.models  # noqa: F401

# Per-tenant plugin state; the migrations compose the whole schema (plugins' own tables
# come with their migration branches).
import plugins.models  # noqa: F401
from core.kernel.models import Base

target_metadata = Base.metadata

__all__ = ["target_metadata"]
