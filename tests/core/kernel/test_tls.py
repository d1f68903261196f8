"""The TLS configuration every outgoing HTTPS call shares verifies the server."""

from __future__ import annotations

import ssl

from core.kernel.tls import client_tls


def test_outgoing_https_verifies_certificates_and_host_names() -> None:
    context = client_tls()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.get_ca_certs()  # a trust store is loaded
    assert client_tls() is context  # built once per process
