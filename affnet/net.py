"""Outgoing HTTP to addresses typed by affiliates, without opening a door
into the operator's network (SSRF).

A postback URL is whatever an affiliate typed, so a request to it must never
reach ``127.0.0.1``, the database next door, or the cloud's metadata service
at ``169.254.169.254``. Use ``outbound_session()`` for every such request:

* the host is resolved first and **every** address it resolves to is checked;
  a loopback, private, link-local, multicast, reserved, unspecified or
  otherwise non-public address refuses the request with ``TargetRefused``,
  whose ``reason`` is fit for a delivery log;
* the connection then goes to the very address that was checked (the
  ``PinnedAddressAdapter`` hands urllib3 the IP, and keeps the name for the
  ``Host`` header, TLS SNI and certificate checks), so a DNS answer that
  changes between the check and the connect (DNS rebinding) cannot sneak in;
* redirects are never followed (the session sees no redirect target in any
  answer): a redirect would be a second, unchecked target; a 3xx answer is
  handed back as it is;
* proxies from the environment are ignored (``trust_env = False``), since a
  proxy would do its own resolving; a CA bundle named by ``REQUESTS_CA_BUNDLE``
  or ``CURL_CA_BUNDLE`` is still used to verify certificates.

``allow_private=True`` (the operator setting ``deliveries.allow_private_targets``,
for a private deployment or tests) lets loopback and private addresses
through; unspecified (``0.0.0.0``, which Linux treats as "this host") and
multicast addresses stay refused, as no HTTP server lives there.

Known gap: name resolution uses the system resolver (``socket.getaddrinfo``),
which has no timeout of its own; a very slow DNS server delays a send beyond
its connect timeout.
"""
from __future__ import annotations

import http.cookiejar
import ipaddress
import os
import socket
import threading
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

__all__ = ["TargetRefused", "UnresolvableHost", "refusal_reason", "resolve_checked", "PinnedAddressAdapter", "outbound_session"]


class TargetRefused(requests.exceptions.RequestException):
    """The destination is not allowed; ``reason`` says why in words for the log."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class UnresolvableHost(requests.exceptions.ConnectionError):
    """The name does not resolve (now): a network fault worth retrying, not a refusal."""


def _refused_as(address: str, allow_private: bool) -> str | None:
    """What makes ``address`` refused ("a loopback address"...), or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_multicast:
        return "a multicast address"
    if allow_private:
        return None
    for label, flag in (("a loopback", ip.is_loopback), ("a link-local", ip.is_link_local),
                        ("a reserved", ip.is_reserved), ("a private", ip.is_private)):
        if flag:
            return f"{label} address"
    if not ip.is_global:
        return "not a public address"
    return None


def refusal_reason(address: str, allow_private: bool = False) -> str | None:
    """Why ``address`` (an IP as text) may not be contacted, or None when it may."""
    category = _refused_as(address, allow_private)
    return f"{address} is {category}" if category else None


def resolve_checked(host: str, port: int, allow_private: bool = False) -> str:
    """Resolve ``host`` and check every address; returns the one to connect to.

    Raises ``TargetRefused`` when any of its addresses is refused (a name
    that resolves to both a public and a private address is refused: that is
    how rebinding tricks look), ``UnresolvableHost`` when it does not resolve."""
    if not host:
        raise TargetRefused("the URL has no host")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnresolvableHost(f"{host} does not resolve ({error})") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise UnresolvableHost(f"{host} does not resolve")
    for address in addresses:
        category = _refused_as(address, allow_private)
        if category:
            what = (f"{address} is {category}" if host.strip("[]") == address
                    else f"{host} resolves to {address}, which is {category}")
            raise TargetRefused(f"refused: {what}; requests to it are not allowed"
                                + ("" if allow_private else " (deliveries.allow_private_targets is off)"))
    return addresses[0]


class PinnedAddressAdapter(HTTPAdapter):
    """A requests transport adapter that checks the destination and connects
    to the checked address (see the module docstring)."""

    def __init__(self, allow_private: bool = False, **kwargs):
        self.allow_private = allow_private
        self._pin = threading.local()
        super().__init__(**kwargs)

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        if parts.scheme not in ("http", "https"):
            raise TargetRefused(f"the scheme {parts.scheme!r} is not allowed (http or https only)")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        self._pin.address = resolve_checked(parts.hostname or "", port, self.allow_private)
        self._pin.hostname = parts.hostname
        request.headers["Host"] = parts.netloc.rsplit("@", 1)[-1]
        try:
            return super().send(request, **kwargs)
        finally:
            self._pin.address = self._pin.hostname = None

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        address = getattr(self._pin, "address", None)
        if address is None:  # only reachable if someone bypasses send()
            raise TargetRefused("the destination was not checked")
        host_params["host"] = address
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = self._pin.hostname
            pool_kwargs["assert_hostname"] = self._pin.hostname
        return host_params, pool_kwargs


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    def set_ok(self, cookie, request):
        return False


class _NoRedirectSession(requests.Session):
    """A session that sees no redirect target in any answer, so it never
    follows one, whatever ``allow_redirects`` a caller passes."""

    def get_redirect_target(self, resp):
        return None


def outbound_session(allow_private: bool = False, pool_size: int = 16, hosts: int = 100) -> requests.Session:
    """A pooled session for affiliate-typed URLs: checked and pinned
    addresses, no redirects, no proxies from the environment, no cookies.

    ``pool_size`` is the number of connections kept per host (match it to
    your parallelism); ``hosts`` the number of hosts whose pools are kept.
    Pass a ``(connect, read)`` timeout to every call."""
    session = _NoRedirectSession()
    session.trust_env = False
    # trust_env off also drops the CA bundle variables; keep an operator's own CAs.
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    session.cookies.set_policy(_NoCookies())
    adapter = PinnedAddressAdapter(allow_private, pool_connections=hosts, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
