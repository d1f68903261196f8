"""Which URLs a webhook may be sent to: the SSRF guard.

A tenant chooses the URL, and the platform's workers call it from inside the platform's
network. Unchecked, a tenant could make them call the metadata service of the cloud
(169.254.169.254), the database, Redis, or an admin port on localhost, and read the answer
back in the delivery log. So by default (``HUIKE_WEBHOOK_ALLOW_PRIVATE_URLS`` off):

* only ``https`` URLs, without credentials in them;
* no IP literal outside the public internet (loopback, private, link-local, shared, reserved,
  multicast, IPv4-mapped versions of those), no ``localhost`` and no single-label host name
  (``redis``, ``postgres``: names of the internal network) — checked when the URL is saved;
* and before every attempt the host name is resolved and every address it resolves to must
  be public — so a name that points (or is re-pointed later) at an internal address is
  refused too. Redirects are never followed.

A determined attacker controlling DNS could still answer differently between our check and
the connection (DNS rebinding); an egress proxy or firewall that refuses private ranges is
the complete defence and is recommended in production (see docs/plugins/webhooks.md).

With the setting on (development and tests) loopback and private addresses are allowed, and
plain ``http`` too, but to loopback only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from core.kernel.errors import Invalid

__all__ = ["MAX_URL_LENGTH", "UnsafeDestination", "check_destination", "check_endpoint_url"]

MAX_URL_LENGTH = 2000

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeDestination(Exception):
    """The URL's host resolves to an address webhooks may not reach."""


def _ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _is_loopback_host(host: str) -> bool:
    address = _ip(host)
    if address is not None:
        return address.is_loopback
    return host == "localhost" or host.endswith(".localhost")


def check_endpoint_url(url: str, *, allow_private: bool, field: str = "url") -> str:
    """``url`` stripped, when webhooks may be sent to it; otherwise 422 naming ``field``."""

    def refuse(reason: str, code: str = "invalid_url") -> Invalid:
        return Invalid(reason, field=field, code=code)

    url = url.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise refuse(f"Give a URL of at most {MAX_URL_LENGTH} characters.")
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise refuse("The URL's port is not a number between 0 and 65535.") from None
    if parts.scheme not in {"https", "http"} or not host:
        raise refuse("Give an absolute https:// URL.")
    if parts.username is not None or parts.password is not None:
        raise refuse("A webhook URL may not carry a user name or password; use the signing secret.")
    if parts.fragment:
        raise refuse("A webhook URL may not have a #fragment.")
    if parts.scheme == "http" and not (allow_private and _is_loopback_host(host)):
        raise refuse("Webhooks are sent over https only.", code="insecure_url")
    if allow_private:
        return url
    address = _ip(host)
    private_name = _is_loopback_host(host) or "." not in host
    if (address is not None and not _is_public(address)) or (address is None and private_name):
        raise refuse(
            "Webhooks may not be sent to loopback, private or internal network addresses.",
            code="private_address",
        )
    return url


async def check_destination(url: str, *, allow_private: bool) -> None:
    """Resolve the URL's host and refuse it unless every address is public.

    Raises:
        UnsafeDestination: an address is not public, or the name does not resolve.
    """
    if allow_private:
        return
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    literal = _ip(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise UnsafeDestination(f"cannot resolve {host}: {exc}") from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    blocked = sorted({str(a) for a in addresses if not _is_public(a)})
    if blocked or not addresses:
        raise UnsafeDestination(f"{host} resolves to a non-public address ({', '.join(blocked)})")
