"""The SSRF guard: every URL a user gives us (audio URLs, automations, connectors, AI and
speech endpoints) must resolve only to public addresses unless an admin allowed private
URLs. security.http applies it on every connection of every hop and pins the connection
to the address it checked."""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from callscribe.errors import BadRequest, ErrorCode, UpstreamError
from callscribe.settings import get_settings


class UnsafeURL(BadRequest):
    code = ErrorCode.URL_NOT_ALLOWED


# IPv6 prefixes that carry an IPv4 address in their low or middle bits: the address we
# really reach is the embedded one, so that is the one judged (issue 17 #6)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known NAT64 prefix
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215 local-use NAT64
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # SIIT ::ffff:0:a.b.c.d
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")  # deprecated, still routed inside sites

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def embedded_ipv4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, translated,
    NAT64, 6to4, Teredo client), or None when it embeds none."""
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr.teredo is not None:
        return addr.teredo[1]
    low32 = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    if addr in _NAT64 or addr in _IPV4_TRANSLATED:
        return low32
    if addr in _IPV4_COMPATIBLE and int(addr) > 1:  # :: and ::1 are not IPv4 forms
        return low32
    return None


def is_public(addr: IPAddress) -> bool:
    """True when connecting to `addr` reaches the public internet, not this machine,
    its network or a link: global unicast, judged on the embedded IPv4 where there is one."""
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.scope_id or addr in _SITE_LOCAL or addr in _NAT64_LOCAL:
            return False  # site-local and local-use NAT64 reach inside networks only
        inner = embedded_ipv4(addr)
        if inner is not None:
            return is_public(inner)
    return addr.is_global and not addr.is_multicast


# never a destination, whatever an admin allowed: link-local (cloud metadata lives there),
# the providers' metadata and host services outside it, and "this network"
ALWAYS_REFUSED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "169.254.0.0/16",  # link-local: AWS/GCP/Azure/OpenStack metadata 169.254.169.254
        "fe80::/10",  # IPv6 link-local
        "fd00:ec2::254/128",  # AWS metadata over IPv6
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "168.63.129.16/32",  # Azure host services (WireServer)
        "0.0.0.0/8",  # "this host on this network"
        "224.0.0.0/4",  # multicast
        "ff00::/8",
    )
)


def always_refused(addr: IPAddress) -> bool:
    """Link-local, metadata and multicast addresses (judged on an embedded IPv4 too)."""
    if isinstance(addr, ipaddress.IPv6Address):
        inner = embedded_ipv4(addr)
        if inner is not None and always_refused(inner):
            return True
    return any(addr.version == net.version and addr in net for net in ALWAYS_REFUSED)


@dataclass(frozen=True)
class PrivateAllowList:
    """Private destinations a company's admin allowed for its deliveries (an internal CRM
    on 10.x or 127.0.0.1): host names that may resolve to private addresses, and private
    networks. ALWAYS_REFUSED stays refused."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def parse(cls, entries: list[str] | None) -> PrivateAllowList:
        hosts: set[str] = set()
        networks = []
        for entry in entries or []:
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def allows(self, host: str, addr: IPAddress) -> bool:
        if host.lower().rstrip(".").strip("[]") in self.hosts:
            return True
        return any(addr.version == net.version and addr in net for net in self.networks)


def check_allow_entry(entry: str) -> str:
    """One allow-list entry as stored: an IP, a CIDR or a host name; an entry that
    reaches link-local or metadata addresses is refused (they stay refused anyway)."""
    entry = entry.strip().lower()
    try:
        net = ipaddress.ip_network(entry.strip("[]"), strict=False)
    except ValueError:
        if not _HOSTNAME.match(entry):
            raise UnsafeURL(f"{entry[:100]!r} is not a host name, IP address or CIDR.") from None
        return entry.rstrip(".")
    for refused in ALWAYS_REFUSED:
        if net.version == refused.version and net.overlaps(refused):  # type: ignore[arg-type]
            raise UnsafeURL(
                f"{entry} includes link-local or cloud-metadata addresses ({refused}), "
                "which are never allowed."
            )
    return str(net)


def _refusal(addr: IPAddress) -> UnsafeURL:
    return UnsafeURL(
        f"The URL points to a private, loopback or link-local address ({addr}); "
        "an admin can allow this with CALLSCRIBE_ALLOW_PRIVATE_URLS."
    )


def allow_private_default(allow_private: bool | None) -> bool:
    return get_settings().ALLOW_PRIVATE_URLS if allow_private is None else allow_private


def resolve(
    host: str,
    port: int,
    *,
    allow_private: bool | None = None,
    allow_list: PrivateAllowList | None = None,
) -> list[IPAddress]:
    """Resolve `host` ONCE and check every address it gave; the caller connects to one of
    the returned addresses and never resolves the name again (no DNS rebinding window).
    `allow_list`: a company's private destinations for deliveries (never ALWAYS_REFUSED)."""
    allow_private = allow_private_default(allow_private)
    literal = host.strip("[]")
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(literal.split("%", 1)[0])]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise UpstreamError(f"Cannot resolve host {host!r}: {reason}.") from exc
        addresses = []
        for info in infos:
            addr = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if addr not in addresses:
                addresses.append(addr)
        if not addresses:
            raise UpstreamError(f"Cannot resolve host {host!r}: no address.") from None
    for addr in addresses:
        if is_public(addr) or allow_private:
            continue
        if allow_list is not None and allow_list.allows(host, addr) and not always_refused(addr):
            continue
        raise _refusal(addr)
    return addresses


def check_url(
    url: str, *, allow_private: bool | None = None, allow_list: PrivateAllowList | None = None
) -> None:
    """Raise UnsafeURL unless `url` is http(s) and every address it resolves to is public.
    For validating a URL when it is saved; connecting goes through security.http, which
    checks again and pins the connection to the checked address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL(f"Only http and https URLs are accepted, got {url[:200]!r}.")
    if allow_private_default(allow_private):
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    resolve(parts.hostname, port, allow_list=allow_list)


_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?$"
)


def check_host(host: str, port: int, *, allow_private: bool | None = None) -> str:
    """For a bare host a user gives us (an SMTP server): it must be a host name or an IP
    literal, and, unless private addresses are allowed, resolve only to public addresses.
    Returns the host as it should be stored. Connecting goes through connect_tcp."""
    host = host.strip()
    literal = host.strip("[]")
    try:
        ipaddress.ip_address(literal)
    except ValueError:
        if not _HOSTNAME.match(host):
            raise UnsafeURL(f"{host[:100]!r} is not a host name or an IP address.") from None
    else:
        host = literal
    if not allow_private_default(allow_private):
        resolve(host, port, allow_private=False)
    return host


def connect_tcp(
    host: str,
    port: int,
    *,
    timeout: float | None,
    allow_private: bool | None = None,
    source_address: Any = None,  # smtplib's (host, port) or None
) -> socket.socket:
    """A TCP connection for a protocol other than HTTP (SMTP): `host` resolved ONCE, every
    address checked, the socket connected to a checked address; the caller keeps the host
    name for TLS (SNI, certificate) and anything it says to the server."""
    error: OSError | None = None
    for address in resolve(host, port, allow_private=allow_private):
        try:
            return socket.create_connection((str(address), port), timeout, source_address)
        except OSError as exc:
            error = exc  # the next checked address, in the resolver's order
    assert error is not None
    raise error


def redact_url(url: str) -> str:
    """A URL fit for an error message: no credentials, no query string (may carry tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"
