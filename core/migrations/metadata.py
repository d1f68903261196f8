"""The complete metadata: importing this module imports every model module."""

from __future__ import annotations

import plugins.models  # noqa: F401  (per-tenant plugin state; plugins' own tables come with their branches)
from core.kernel.models import Base

target_metadata = Base.metadata

__all__ = ["target_metadata"]
