"""Public web forms: a business puts a form on its site; what people send becomes a lead.

The form's token (``lf_<tenant>_<form>_<secret>``) goes in the page; the server reads the
tenant from it before any query and checks the secret against its SHA-256. Submissions are
rate-limited per client IP and form (``HUIKE_RATE_LIMIT_LEAD_FORM``) and spam-checked with a
honeypot: a field hidden from people (``website`` unless the form names another) that only
robots fill in. A robot is answered exactly like a person, and nothing is stored.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.context import ActorType, audit_context
from core.kernel.concurrency import ensure_version
from core.kernel.database import Database
from core.kernel.errors import Invalid, NotFound
from core.kernel.models import Tenant, TenantStatus
from core.kernel.pagination import Page, PageRequest, paginate
from core.kernel.tenancy import tenant_context
from core.leads.models import LeadForm
from core.leads.schemas import FormCreate, FormUpdate, FormView, LeadCreate, Submission
from core.leads.service import add_lead
from core.leads.views import form_view
from core.security.opaque import digest, new_secret, parse_tenant_token, same_digest, tenant_token

__all__ = [
    "PUBLIC_PATH",
    "create_form",
    "delete_form",
    "get_form",
    "list_forms",
    "rotate_token",
    "submit",
    "update_form",
]

TOKEN_PREFIX = "lf"  # noqa: S105 - a token prefix, not a secret
#: Where a web page posts a submission (the token follows).
PUBLIC_PATH = "/api/v1/public/lead-forms"


def _with_token(form: LeadForm, secret: str) -> FormView:
    view = form_view(form)
    view.token = tenant_token(TOKEN_PREFIX, form.tenant_id, form.id, secret)
    view.submit_path = f"{PUBLIC_PATH}/{view.token}"
    return view


async def list_forms(session: AsyncSession, page: PageRequest) -> Page[FormView]:
    return await paginate(session, select(LeadForm), LeadForm.id, page, form_view)


async def _form(session: AsyncSession, form_id: uuid.UUID, *, lock: bool = False) -> LeadForm:
    stmt = select(LeadForm).where(LeadForm.id == form_id)
    form = await session.scalar(stmt.with_for_update() if lock else stmt)
    if form is None:
        raise NotFound()
    return form


async def get_form(session: AsyncSession, form_id: uuid.UUID) -> FormView:
    return form_view(await _form(session, form_id))


async def create_form(session: AsyncSession, data: FormCreate) -> FormView:
    """A new form; its token is in this answer only (rotate it to see a new one)."""
    secret = new_secret()
    form = LeadForm(
        name=data.name.strip(),
        source=(data.source or "").strip() or None,
        honeypot_field=data.honeypot_field,
        secret_hash=digest(secret),
    )
    session.add(form)
    await session.flush()
    return _with_token(form, secret)


async def update_form(
    session: AsyncSession, form_id: uuid.UUID, change: FormUpdate, *, expected_version: int | None = None
) -> FormView:
    form = await _form(session, form_id, lock=True)
    ensure_version(form, expected_version)
    values = {k: v for k, v in msgspec.structs.asdict(change).items() if v is not msgspec.UNSET}
    if "name" in values:
        values["name"] = values["name"].strip()
    if "source" in values:
        values["source"] = (values["source"] or "").strip() or None
    for key, value in values.items():
        if getattr(form, key) != value:
            setattr(form, key, value)
    await session.flush()
    return form_view(form)


async def rotate_token(
    session: AsyncSession, form_id: uuid.UUID, *, expected_version: int | None = None
) -> FormView:
    """Give the form a new token; pages with the old one stop working at once."""
    form = await _form(session, form_id, lock=True)
    ensure_version(form, expected_version)
    secret = new_secret()
    form.secret_hash = digest(secret)
    await session.flush()
    return _with_token(form, secret)


async def delete_form(
    session: AsyncSession, form_id: uuid.UUID, *, expected_version: int | None = None
) -> None:
    """Delete the form; its leads stay (their ``form_id`` keeps naming it)."""
    form = await _form(session, form_id, lock=True)
    ensure_version(form, expected_version)
    await session.delete(form)
    await session.flush()


_FIELD_IN_ERROR = re.compile(r"at `\$\.(\w+)`|missing required field `(\w+)`")


def _submission(fields: dict[str, Any]) -> Submission:
    known = {k: v for k, v in fields.items() if k in Submission.__struct_fields__}
    try:
        return msgspec.convert(known, Submission, strict=False)
    except msgspec.ValidationError as exc:
        # "Object missing required field `name`" or "Expected `str` ... - at `$.phone`"
        message = str(exc)
        path = _FIELD_IN_ERROR.search(message)
        field = path[1] or path[2] if path else None
        raise Invalid(message.split(" - at ")[0], field=field, code="invalid_field") from None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


async def submit(db: Database, token: str, fields: dict[str, Any], *, ip: str | None) -> uuid.UUID | None:
    """Store what a web form sent as a lead, in the form's tenant and one transaction.

    Returns the lead's id, or None when the honeypot caught a robot (nothing stored).

    Raises:
        NotFound: the token names no active form of an active business.
        Invalid: a field is missing or malformed (the problem names it).
    """
    parsed = parse_tenant_token(TOKEN_PREFIX, token)
    if parsed is None:
        raise NotFound("This form does not exist.")
    tenant_id, form_id, secret = parsed
    with tenant_context(tenant_id), audit_context(ActorType.ANONYMOUS, f"lead_form:{form_id}", ip=ip):
        async with db.transaction() as session:
            tenant = await session.get(Tenant, tenant_id)
            form = await session.scalar(select(LeadForm).where(LeadForm.id == form_id))
            if (
                tenant is None
                or tenant.status != TenantStatus.ACTIVE
                or form is None
                or not form.is_active
                or not same_digest(form.secret_hash, digest(secret))
            ):
                raise NotFound("This form does not exist.")
            if not _blank(fields.get(form.honeypot_field)):
                return None
            data = _submission(fields)
            lead = await add_lead(
                session,
                LeadCreate(
                    name=data.name,
                    company=data.company,
                    title=data.title,
                    phone=data.phone,
                    email=data.email,
                    message=data.message,
                    region=data.region,
                    source=form.source,
                ),
                channel="form",
                form_id=form.id,
            )
            return lead.id
