"""``smtp``: a business sends its outgoing mail through its own SMTP server."""
