"""``webhooks``: a business sends its events to its own HTTPS endpoints, signed."""
