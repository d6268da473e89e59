"""Outgoing HTTP to addresses typed by affiliates, without opening a door
into the operator's network (SSRF).

A postback URL is whatever an affiliate typed, so a request to it must never
reach ``127.0.0.1``, the database next door, or the cloud's metadata service
at ``169.254.169.254``. Use ``outbound_session()`` (a requests session) for
every such request, or ``outbound_client_session()`` (an aiohttp session)
where many go out at once: a sender that makes a request per event spends
about a fifth of the CPU per request on the aiohttp one, which waits for
many answers in one thread instead of a thread per request. Both:

* the host is resolved first and **every** address it resolves to is checked;
  a loopback, private, link-local, multicast, reserved, unspecified or
  otherwise non-public address refuses the request with ``TargetRefused``,
  whose ``reason`` is fit for a delivery log;
* the connection then goes to the very address that was checked (the
  ``PinnedAddressAdapter`` hands urllib3 the IP; the ``CheckedResolver`` is
  the only name service of the aiohttp session), and the name is kept for
  the ``Host`` header, TLS SNI and certificate checks, so a DNS answer that
  changes between the check and the connect (DNS rebinding) cannot sneak in;
* redirects are never followed by the requests session (it sees no redirect
  target in any answer): a 3xx answer is handed back as it is. Pass
  ``allow_redirects=False`` to the aiohttp session (every hop it would
  follow is checked all the same);
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

import asyncio
import atexit
import http.cookiejar
import ipaddress
import os
import socket
import ssl
import threading
import weakref
from functools import lru_cache
from urllib.parse import urlsplit

import aiohttp
import certifi
import requests
from aiohttp.abc import AbstractResolver
from requests.adapters import HTTPAdapter

__all__ = [
    "TargetRefused",
    "UnresolvableHost",
    "refusal_reason",
    "resolve_checked",
    "PinnedAddressAdapter",
    "outbound_session",
    "CheckedResolver",
    "outbound_client_session",
    "refusal_in",
    "run_outbound",
]


class TargetRefused(requests.exceptions.RequestException):
    """The destination is not allowed; ``reason`` says why in words for the log."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class UnresolvableHost(requests.exceptions.ConnectionError):
    """The name does not resolve (now): a network fault worth retrying, not a refusal."""


@lru_cache(maxsize=4096)  # a tracker's address is checked on every postback
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
    for label, flag in (
        ("a loopback", ip.is_loopback),
        ("a link-local", ip.is_link_local),
        ("a reserved", ip.is_reserved),
        ("a private", ip.is_private),
    ):
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
    return _checked(host, [info[4][0] for info in infos], allow_private)


def _checked(host: str, addresses: list[str], allow_private: bool) -> str:
    """The address to connect to among those ``host`` resolves to, all of them checked."""
    addresses = list(dict.fromkeys(addresses))
    if not addresses:
        raise UnresolvableHost(f"{host} does not resolve")
    for address in addresses:
        category = _refused_as(address, allow_private)
        if category:
            what = (
                f"{address} is {category}"
                if host.strip("[]") == address
                else f"{host} resolves to {address}, which is {category}"
            )
            raise TargetRefused(
                f"refused: {what}; requests to it are not allowed"
                + ("" if allow_private else " (deliveries.allow_private_targets is off)")
            )
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


def _operators_ca_bundle() -> str | None:
    """The CA bundle an operator named in ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE``, if any."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")


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
    session.verify = _operators_ca_bundle() or True
    session.cookies.set_policy(_NoCookies())
    adapter = PinnedAddressAdapter(allow_private, pool_connections=hosts, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class CheckedResolver(AbstractResolver):
    """aiohttp's name service for affiliate-typed hosts: every address a name
    resolves to is checked as ``resolve_checked`` does, and the connection
    goes to the one it answers. It raises ``TargetRefused`` or
    ``UnresolvableHost``, which aiohttp hands on as the ``os_error`` of a
    ``ClientConnectorDNSError``."""

    def __init__(self, allow_private: bool = False):
        self.allow_private = allow_private

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict]:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            raise UnresolvableHost(f"{host} does not resolve ({error})") from None
        address = _checked(host, [info[4][0] for info in infos], self.allow_private)
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
            }
        ]

    async def close(self) -> None:
        pass


def _checks_the_destination(allow_private: bool):
    """A client middleware that checks an IP address given as the host
    (aiohttp asks no resolver about those). aiohttp itself refuses a scheme
    other than http(s) (``NonHttpUrlClientError``) and an IPv4 address in a
    legacy form such as ``127.1`` (``InvalidUrlClientError``)."""

    async def check(request, handler):
        host = (request.url.raw_host or "").strip("[]")
        if _is_address(host):  # a name is checked by the resolver
            _checked(host, [host], allow_private)
        return await handler(request)

    return check


@lru_cache(maxsize=4096)
def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def refusal_in(error: BaseException) -> TargetRefused | None:
    """The ``TargetRefused`` behind an error of the aiohttp session, which
    wraps what its resolver and middleware raise (as the ``os_error`` of a
    ``ClientConnectorDNSError``, or as the cause of a ``ClientOSError``)."""
    while error is not None:
        if isinstance(error, TargetRefused):
            return error
        error = getattr(error, "os_error", None) or error.__cause__
    return None


def outbound_client_session(allow_private: bool = False, keep_seconds: float = 15) -> aiohttp.ClientSession:
    """An aiohttp session for affiliate-typed URLs, with the rules above:
    checked and pinned addresses, no proxies from the environment, no
    cookies, the operator's CA bundle when one is named. Make it, and use
    it, inside the loop of ``run_outbound`` (or your own). It bounds no
    parallelism: bound it yourself (an ``asyncio.Semaphore``), and pass
    ``allow_redirects=False`` and a ``timeout`` to every call. Idle
    connections are kept ``keep_seconds`` for the next request."""
    # the CAs the requests session trusts: the operator's bundle, else certifi's
    bundle = _operators_ca_bundle() or certifi.where()
    connector = aiohttp.TCPConnector(
        resolver=CheckedResolver(allow_private),
        limit=0,
        limit_per_host=0,
        keepalive_timeout=keep_seconds,
        ssl=ssl.create_default_context(cafile=bundle),
    )
    session = aiohttp.ClientSession(
        connector=connector,
        trust_env=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        middlewares=(_checks_the_destination(allow_private),),
    )
    _client_sessions.add(session)
    return session


_loop: asyncio.AbstractEventLoop | None = None
_loop_pid = 0
_loop_lock = threading.Lock()
_client_sessions: weakref.WeakSet[aiohttp.ClientSession] = weakref.WeakSet()


def run_outbound(coroutine):
    """Run ``coroutine`` on this process's outbound event loop (a daemon
    thread, started on first use) and return its result: a synchronous
    hook such as ``send_deliveries`` waits here for a whole batch of
    requests made at once. Sessions made on that loop can be kept in a
    module for the next call, so connections are reused across batches."""
    global _loop, _loop_pid
    with _loop_lock:
        if _loop is None or _loop_pid != os.getpid():  # a forked child has the loop but not its thread
            _loop, _loop_pid = asyncio.new_event_loop(), os.getpid()
            threading.Thread(target=_loop.run_forever, name="affnet-outbound", daemon=True).start()
            atexit.register(_close_outbound, _loop)
    return asyncio.run_coroutine_threadsafe(coroutine, _loop).result()


def _close_outbound(loop: asyncio.AbstractEventLoop) -> None:
    """At exit: close the sessions of the outbound loop (their kept
    connections), then stop it."""

    async def close_all():
        await asyncio.gather(*(session.close() for session in list(_client_sessions)), return_exceptions=True)

    if loop.is_running() and _loop_pid == os.getpid():
        try:
            asyncio.run_coroutine_threadsafe(close_all(), loop).result(timeout=5)
        except Exception:  # noqa: BLE001 - leaving anyway
            pass
        loop.call_soon_threadsafe(loop.stop)
