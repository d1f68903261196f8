"""Per-tenant custom fields: definitions, validation of values, and list filters and sorts.

An entity (customer, contact, lead, opportunity, ...) keeps its values in one JSON column;
see ``docs/custom-fields.md`` for how a module opts in.
"""
