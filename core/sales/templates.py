"""The standard pipeline every new tenant starts with, in the owner's language."""

from __future__ import annotations

from core.sales.models import StageKind
from core.sales.schemas import StageCreate

__all__ = ["default_pipeline_name", "default_stages", "language_of"]

_NAMES = {"zh": "销售流程", "en": "Sales pipeline"}

#: (zh-CN name, en name, probability, kind)
_STAGES = [
    ("初步接触", "Initial contact", 10, StageKind.OPEN),
    ("需求确认", "Needs confirmed", 30, StageKind.OPEN),
    ("方案报价", "Proposal", 50, StageKind.OPEN),
    ("谈判", "Negotiation", 70, StageKind.OPEN),
    ("赢单", "Won", 100, StageKind.WON),
    ("输单", "Lost", 0, StageKind.LOST),
]


def language_of(locale: str) -> str:
    """``zh`` for any Chinese locale (``zh-CN``, ``zh-TW``...), else ``en``."""
    return "zh" if locale.lower().startswith("zh") else "en"


def default_pipeline_name(locale: str) -> str:
    return _NAMES[language_of(locale)]


def default_stages(locale: str) -> list[StageCreate]:
    chinese = language_of(locale) == "zh"
    return [
        StageCreate(name=zh if chinese else en, probability=probability, kind=kind)
        for zh, en, probability, kind in _STAGES
    ]
