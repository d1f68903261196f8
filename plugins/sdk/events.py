"""The domain events a plugin's ``on_event`` receives; match on the class or on ``event.name``."""

from core.activities.events import (
    ActivityCreated,
    TaskCompleted,
)
from core.customers.events import (
    ContactCreated,
    ContactUpdated,
    CustomerClaimed,
    CustomerCreated,
    CustomerDeleted,
    CustomerMerged,
    CustomerReturnedToPool,
    CustomerTransferred,
    CustomerUpdated,
)
from core.events.catalog import event_types
from core.events.schemas import DomainEvent
from core.leads.events import (
    LeadAssigned,
    LeadConverted,
    LeadCreated,
    LeadStatusChanged,
)
from core.sales.events import (
    OpportunityCreated,
    OpportunityLost,
    OpportunityReopened,
    OpportunityStageChanged,
    OpportunityTransferred,
    OpportunityWon,
)

__all__ = [
    "ActivityCreated",
    "ContactCreated",
    "ContactUpdated",
    "CustomerClaimed",
    "CustomerCreated",
    "CustomerDeleted",
    "CustomerMerged",
    "CustomerReturnedToPool",
    "CustomerTransferred",
    "CustomerUpdated",
    "DomainEvent",
    "LeadAssigned",
    "LeadConverted",
    "LeadCreated",
    "LeadStatusChanged",
    "OpportunityCreated",
    "OpportunityLost",
    "OpportunityReopened",
    "OpportunityStageChanged",
    "OpportunityTransferred",
    "OpportunityWon",
    "TaskCompleted",
    "event_types",
]
