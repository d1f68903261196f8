"""Column mapping: which column of a sheet feeds which field, found from its header in Chinese
or English (with the usual synonyms), or from a custom field's label or key; overridable.

Headers are compared normalized: case, spaces, ``_``/``-``, a trailing ``*`` and a bracketed
remark (``手机（必填）``, ``Phone (mobile)``) do not matter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from core.customfields.schemas import FieldView
from core.kernel.errors import Invalid

__all__ = ["CUSTOM_PREFIX", "FIELDS", "apply_overrides", "auto_map", "field_label", "normalize_header"]

CUSTOM_PREFIX = "custom_fields."

_PHONE = ("手机", "手机号", "手机号码", "电话", "联系电话", "电话号码", "移动电话", "phone", "mobile", "tel",
          "telephone", "phonenumber", "mobilephone", "cellphone")  # fmt: skip
_EMAIL = ("邮箱", "电子邮件", "电子邮箱", "邮件", "邮箱地址", "email", "e-mail", "mail", "emailaddress")
_OWNER = ("负责人", "负责人邮箱", "归属人", "所属销售", "销售", "owner", "owneremail", "salesrep")
_SOURCE = ("来源", "客户来源", "线索来源", "渠道", "source", "leadsource")
_TITLE = ("职位", "职务", "title", "jobtitle", "position")

#: Per entity: field -> (Chinese label, English label, synonyms). The labels head exports.
FIELDS: dict[str, dict[str, tuple[str, str, tuple[str, ...]]]] = {
    "customer": {
        "name": (
            "客户名称",
            "Name",
            (
                "客户名称",
                "客户名",
                "公司名称",
                "企业名称",
                "单位名称",
                "名称",
                "公司",
                "customername",
                "companyname",
                "company",
                "customer",
                "name",
            ),
        ),
        "kind": ("客户类型", "Kind", ("客户类型", "类型", "kind", "type", "customertype")),
        "level": ("客户级别", "Level", ("客户级别", "级别", "等级", "客户等级", "level", "grade")),
        "stage": ("阶段", "Stage", ("阶段", "客户阶段", "stage", "lifecyclestage")),
        "source": ("来源", "Source", _SOURCE),
        "industry": ("行业", "Industry", ("行业", "所属行业", "industry")),
        "tags": ("标签", "Tags", ("标签", "tags", "tag")),
        "owner": ("负责人", "Owner", _OWNER),
        "phone": ("手机", "Phone", _PHONE),
        "email": ("邮箱", "Email", _EMAIL),
        "address": ("地址", "Address", ("地址", "联系地址", "公司地址", "详细地址", "address")),
        "id_number": ("身份证号", "ID number", ("身份证号", "身份证", "身份证号码", "证件号码", "idnumber")),
        "contact_name": ("联系人", "Contact", ("联系人", "联系人姓名", "contact", "contactname")),
        "contact_title": ("联系人职位", "Contact title", ("联系人职位", "contacttitle", *_TITLE)),
        "contact_phone": ("联系人电话", "Contact phone", ("联系人电话", "联系人手机", "contactphone")),
        "contact_email": ("联系人邮箱", "Contact email", ("联系人邮箱", "contactemail")),
    },
    "contact": {
        "customer": (
            "客户名称",
            "Customer",
            ("客户名称", "客户", "公司名称", "公司", "customername", "customer", "company", "companyname"),
        ),
        "name": ("姓名", "Name", ("姓名", "联系人", "联系人姓名", "名字", "name", "contact", "fullname")),
        "title": ("职位", "Title", _TITLE),
        "phone": ("手机", "Phone", _PHONE),
        "email": ("邮箱", "Email", _EMAIL),
    },
    "lead": {
        "name": ("姓名", "Name", ("姓名", "联系人", "联系人姓名", "名字", "name", "fullname", "contactname")),
        "company": (
            "公司",
            "Company",
            ("公司", "公司名称", "单位", "企业名称", "客户名称", "company", "companyname"),
        ),
        "title": ("职位", "Title", _TITLE),
        "phone": ("手机", "Phone", _PHONE),
        "email": ("邮箱", "Email", _EMAIL),
        "source": ("来源", "Source", _SOURCE),
        "region": ("地区", "Region", ("地区", "区域", "省份", "城市", "region", "area", "city")),
        "message": (
            "备注",
            "Message",
            ("备注", "留言", "需求", "描述", "message", "note", "notes", "remark"),
        ),
        "owner": ("负责人", "Owner", _OWNER),
    },
    # Exported, not imported: no synonyms.
    "opportunity": {
        "name": ("商机名称", "Name", ()),
        "customer": ("客户名称", "Customer", ()),
        "pipeline": ("销售流程", "Pipeline", ()),
        "stage": ("阶段", "Stage", ()),
        "status": ("状态", "Status", ()),
        "amount": ("金额", "Amount", ()),
        "currency": ("币种", "Currency", ()),
        "probability": ("赢率", "Probability", ()),
        "weighted_amount": ("加权金额", "Weighted amount", ()),
        "expected_close_date": ("预计成交日期", "Expected close", ()),
        "forecast_category": ("预测类别", "Forecast category", ()),
        "owner": ("负责人", "Owner", ()),
        "source": ("来源", "Source", ()),
        "lost_reason": ("输单原因", "Lost reason", ()),
        "created_at": ("创建时间", "Created", ()),
    },
}

_BRACKETED = re.compile(r"[（(\[【].*?[)）\]】]")
_NOISE = re.compile(r"[\s_\-*:：]+")


def normalize_header(header: str) -> str:
    return _NOISE.sub("", _BRACKETED.sub("", header)).lower()


def _synonyms(entity: str, definitions: Sequence[FieldView]) -> dict[str, str]:
    found: dict[str, str] = {}
    for field, (zh, en, words) in FIELDS[entity].items():
        for word in (zh, en, *words):
            found.setdefault(normalize_header(word), field)
    for definition in definitions:
        if definition.archived:
            continue
        for word in (definition.key, definition.label.zh, definition.label.en):
            if word:
                found.setdefault(normalize_header(word), CUSTOM_PREFIX + definition.key)
    return found


def known_fields(entity: str, definitions: Sequence[FieldView]) -> set[str]:
    return set(FIELDS[entity]) | {CUSTOM_PREFIX + d.key for d in definitions if not d.archived}


def auto_map(entity: str, headers: Sequence[str], definitions: Sequence[FieldView]) -> dict[str, str]:
    """``{"<column index>": field}`` for the headers recognised; the first column wins a field."""
    synonyms = _synonyms(entity, definitions)
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for index, header in enumerate(headers):
        field = synonyms.get(normalize_header(header or ""))
        if field is not None and field not in taken:
            mapping[str(index)] = field
            taken.add(field)
    return mapping


def apply_overrides(
    entity: str,
    headers: Sequence[str],
    mapping: Mapping[str, str],
    overrides: Mapping[str, str | None],
    definitions: Sequence[FieldView],
) -> dict[str, str]:
    """``mapping`` changed by ``overrides``, keyed by a header's text or a column index; a
    ``None`` (or empty) field leaves the column out.

    Raises:
        Invalid: an unknown column or field, or two columns for one field (naming ``mapping``).
    """
    result = dict(mapping)
    fields = known_fields(entity, definitions)
    for key, field in overrides.items():
        index = _column_index(headers, key)
        if not field:
            result.pop(index, None)
            continue
        if field not in fields:
            raise Invalid(
                f"There is no field {field!r} for a {entity}.", field=f"mapping.{key}", code="unknown_field"
            )
        result = {i: f for i, f in result.items() if f != field}
        result[index] = field
    return result


def _column_index(headers: Sequence[str], key: str) -> str:
    if key.isdigit() and int(key) < len(headers):
        return key
    wanted = normalize_header(key)
    for index, header in enumerate(headers):
        if header == key or normalize_header(header or "") == wanted:
            return str(index)
    raise Invalid("There is no such column in the file.", field=f"mapping.{key}", code="unknown_column")


def field_label(entity: str, field: str, language: str, definitions: Sequence[FieldView] = ()) -> str:
    """The header of ``field`` in ``language`` (``zh``... or ``en``): what exports write."""
    chinese = language.lower().startswith("zh")
    if field.startswith(CUSTOM_PREFIX):
        key = field[len(CUSTOM_PREFIX) :]
        for definition in definitions:
            if definition.key == key:
                return (definition.label.zh if chinese else definition.label.en) or definition.label.en or key
        return key
    zh, en, _ = FIELDS[entity].get(field, (field, field, ()))
    return zh if chinese else en
