"""Read models built from rows, with personal fields masked unless the caller holds
``customers.read_sensitive``."""

from __future__ import annotations

from core.customers.masking import mask_address, mask_email, mask_id_number, mask_phone
from core.customers.models import Contact, Customer
from core.customers.permissions import READ_SENSITIVE
from core.customers.schemas import ContactView, CustomerView
from core.security.principal import Principal

__all__ = ["contact_view", "customer_view"]


def customer_view(customer: Customer, principal: Principal) -> CustomerView:
    clear = principal.can(READ_SENSITIVE)
    return CustomerView(
        id=customer.id,
        kind=customer.kind,
        name=customer.name,
        level=customer.level,
        source=customer.source,
        industry=customer.industry,
        stage=customer.stage,
        tags=list(customer.tags or []),
        owner_id=customer.owner_id,
        team_id=customer.team_id,
        phone=str(customer.phone) if clear and customer.phone else mask_phone(customer.phone),
        email=str(customer.email) if clear and customer.email else mask_email(customer.email),
        address=str(customer.address) if clear and customer.address else mask_address(customer.address),
        id_number=(
            str(customer.id_number) if clear and customer.id_number else mask_id_number(customer.id_number)
        ),
        custom_fields=dict(customer.custom_fields or {}),
        last_contacted_at=customer.last_contacted_at,
        last_deal_at=customer.last_deal_at,
        assigned_at=customer.assigned_at,
        in_pool=customer.owner_id is None,
        pool_entered_at=customer.pool_entered_at,
        pool_reason=customer.pool_reason,
        pool_note=customer.pool_note,
        pool_released_by=customer.pool_released_by,
        pool_previous_owner_id=customer.pool_previous_owner_id,
        created_at=customer.created_at,
        updated_at=customer.updated_at,
        version=customer.version,
        masked=not clear,
    )


def contact_view(contact: Contact, principal: Principal) -> ContactView:
    clear = principal.can(READ_SENSITIVE)
    return ContactView(
        id=contact.id,
        customer_id=contact.customer_id,
        name=contact.name,
        title=contact.title,
        phone=str(contact.phone) if clear and contact.phone else mask_phone(contact.phone),
        email=str(contact.email) if clear and contact.email else mask_email(contact.email),
        is_primary=contact.is_primary,
        custom_fields=dict(contact.custom_fields or {}),
        created_at=contact.created_at,
        updated_at=contact.updated_at,
        version=contact.version,
    )
