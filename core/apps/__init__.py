"""Out-of-process apps: third-party services a developer registers, a tenant admin installs
through a consent screen, and that call the API with OAuth2 access tokens (authlib's
authorization server behind a thin adapter). See docs/plugins/apps.md."""
