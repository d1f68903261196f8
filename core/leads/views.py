"""Read models of leads, with personal fields masked unless the caller holds
``customers.read_sensitive`` (the one permission that shows people's personal data)."""

from __future__ import annotations

from core.customers.masking import STARS, mask_email, mask_phone
from core.customers.permissions import READ_SENSITIVE
from core.leads.models import Lead, LeadForm
from core.leads.schemas import FormView, LeadView
from core.security.principal import Principal

__all__ = ["form_view", "lead_view"]


def lead_view(lead: Lead, principal: Principal) -> LeadView:
    clear = principal.can(READ_SENSITIVE)
    return LeadView(
        id=lead.id,
        name=lead.name,
        company=lead.company,
        title=lead.title,
        phone=str(lead.phone) if clear and lead.phone else mask_phone(lead.phone),
        email=str(lead.email) if clear and lead.email else mask_email(lead.email),
        message=str(lead.message) if clear and lead.message else (STARS if lead.message else None),
        source=lead.source,
        region=lead.region,
        status=lead.status,
        status_reason=lead.status_reason,
        owner_id=lead.owner_id,
        team_id=lead.team_id,
        form_id=lead.form_id,
        custom_fields=dict(lead.custom_fields or {}),
        converted_at=lead.converted_at,
        converted_customer_id=lead.converted_customer_id,
        converted_contact_id=lead.converted_contact_id,
        converted_opportunity_id=lead.converted_opportunity_id,
        created_at=lead.created_at,
        updated_at=lead.updated_at,
        version=lead.version,
        masked=not clear,
    )


def form_view(form: LeadForm) -> FormView:
    return FormView(
        id=form.id,
        name=form.name,
        source=form.source,
        honeypot_field=form.honeypot_field,
        is_active=form.is_active,
        created_at=form.created_at,
        version=form.version,
    )
