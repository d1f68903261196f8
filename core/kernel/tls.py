"""The TLS configuration of outgoing HTTPS calls (webhooks, integrations), built once.

Building an ``ssl.SSLContext`` loads the whole CA bundle: about 20 ms of CPU, which an
``httpx.AsyncClient`` pays on every construction unless it is given a context. Calls that
open a client per attempt (nothing pooled between tenants) share this one instead: it holds
the trust store only, no connection and no session state of any destination.
"""

from __future__ import annotations

import functools
import ssl

import httpx

__all__ = ["client_tls"]


@functools.cache
def client_tls() -> ssl.SSLContext:
    """The default verifying context (certifi's CAs, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``
    as read when it is first asked for)."""
    return httpx.create_ssl_context()
