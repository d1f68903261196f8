"""The URIs an app registers: redirect URIs (matched exactly, RFC 6749 §3.1.2) and its
webhook URL. HTTPS everywhere, except plain HTTP on the loopback host a developer runs the
app on (RFC 8252 §7.3)."""

from __future__ import annotations

from urllib.parse import urlsplit

from core.kernel.errors import Invalid

__all__ = ["clean_uri", "clean_uris"]

_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def clean_uri(uri: str, field: str) -> str:
    """``uri`` when it is an absolute https URI (http on loopback) without fragment or user.

    Raises:
        Invalid: naming ``field`` and what is wrong.
    """
    uri = uri.strip()
    try:
        parts = urlsplit(uri)
        host = parts.hostname
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        raise Invalid("Not a valid URI.", field=field, code="invalid_uri") from None
    if parts.scheme not in ("https", "http") or not host:
        raise Invalid("Use an absolute https:// URI.", field=field, code="invalid_uri")
    if parts.scheme == "http" and host not in _LOOPBACK:
        raise Invalid(
            "Use https:// (plain http only on localhost or 127.0.0.1).", field=field, code="insecure_uri"
        )
    if parts.fragment or "#" in uri:
        raise Invalid("A redirect URI must not have a #fragment.", field=field, code="invalid_uri")
    if parts.username is not None or parts.password is not None:
        raise Invalid("A URI must not carry a user or password.", field=field, code="invalid_uri")
    return uri


def clean_uris(uris: list[str], field: str) -> list[str]:
    """Every URI of ``uris`` checked (``field[i]`` names the bad one), duplicates removed."""
    if not uris:
        raise Invalid("Register at least one redirect URI.", field=field, code="required")
    cleaned: list[str] = []
    for index, uri in enumerate(uris):
        value = clean_uri(uri, f"{field}[{index}]")
        if value not in cleaned:
            cleaned.append(value)
    return cleaned
