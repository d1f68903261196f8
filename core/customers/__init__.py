"""Customers and their contacts: the CRM's record of who the business sells to."""
