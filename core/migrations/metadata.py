"""The complete metadata: importing this module imports every model module."""

from __future__ import annotations

from core.kernel.models import Base

target_metadata = Base.metadata

__all__ = ["target_metadata"]
