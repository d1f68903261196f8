"""Leads: prospects not yet customers, their web forms, assignment and conversion."""
