"""affnet.net: requests to affiliate-typed URLs never reach the operator's network.

Every rule holds for both clients: the requests session (``outbound_session``)
and the aiohttp session (``outbound_client_session`` on ``run_outbound``'s loop)."""

import base64
import socket

import aiohttp
import certifi
import pytest

from affnet.net import (
    TargetRefused,
    UnresolvableHost,
    outbound_client_session,
    outbound_session,
    refusal_in,
    refusal_reason,
    resolve_checked,
    run_outbound,
)
from affnet.testing import FakeReceiver

REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture
def receiver():
    server = FakeReceiver()
    yield server
    server.close()


def session_get(url: str, allow_private: bool = False) -> int:
    return outbound_session(allow_private=allow_private).get(url, timeout=(2, 2)).status_code


def client_get(url: str, allow_private: bool = False) -> int:
    async def get():
        async with outbound_client_session(allow_private) as session:
            async with session.get(url, allow_redirects=False, timeout=aiohttp.ClientTimeout(total=2)) as response:
                await response.read()
                return response.status

    try:
        return run_outbound(get())
    except aiohttp.ClientError as error:
        raise (refusal_in(error) or error) from None


@pytest.fixture(params=[session_get, client_get], ids=["requests session", "aiohttp session"])
def get(request):
    """GET a URL through one of the two clients; returns the status code."""
    return request.param


def fake_dns(monkeypatch, names: dict):
    """Make ``socket.getaddrinfo`` answer ``names`` (name -> list of IPs, or a
    callable giving one); IP literals resolve as usual."""

    def getaddrinfo(host, port, *args, **kwargs):
        if host in names:
            answer = names[host]
            addresses = answer() if callable(answer) else answer
            return [
                (
                    socket.AF_INET6 if ":" in ip else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (ip, port) if ":" not in ip else (ip, port, 0, 0),
                )
                for ip in addresses
            ]
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize(
    "address, words",
    [
        ("127.0.0.1", "loopback"),
        ("10.0.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("192.168.1.10", "private"),
        ("172.16.0.5", "private"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not a public address"),
    ],
)
def test_non_public_addresses_are_refused_with_a_reason(address, words):
    assert words in refusal_reason(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert refusal_reason(address) is None


def test_allow_private_lets_loopback_and_private_through_but_not_unspecified_or_multicast():
    for address in ("127.0.0.1", "10.0.0.1", "169.254.169.254", "::1"):
        assert refusal_reason(address, allow_private=True) is None
    assert "unspecified" in refusal_reason("0.0.0.0", allow_private=True)
    assert "multicast" in refusal_reason("224.0.0.1", allow_private=True)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.1", "169.254.169.254"])
def test_a_url_with_a_refused_ip_is_never_requested(get, receiver, address):
    with pytest.raises(TargetRefused) as refused:
        get(f"http://{address}:{receiver.port}/postback")
    assert address in refused.value.reason and "not allowed" in refused.value.reason
    assert receiver.requests == []


def test_a_hostname_that_resolves_to_a_refused_address_is_refused(get, monkeypatch, receiver):
    fake_dns(monkeypatch, {"tracker.example": ["169.254.169.254"], "keitaro.example": ["127.0.0.1"]})
    for host, address in (("tracker.example", "169.254.169.254"), ("keitaro.example", "127.0.0.1")):
        with pytest.raises(TargetRefused) as refused:
            get(f"http://{host}:{receiver.port}/")
        assert f"{host} resolves to {address}" in refused.value.reason
    assert receiver.requests == []


def test_localhost_is_refused(get, receiver):
    with pytest.raises(TargetRefused) as refused:
        get(f"http://localhost:{receiver.port}/")
    assert "loopback" in refused.value.reason
    assert receiver.requests == []


def test_a_name_with_one_public_and_one_private_address_is_refused(monkeypatch):
    fake_dns(monkeypatch, {"mixed.example": ["93.184.215.14", "10.0.0.1"]})
    with pytest.raises(TargetRefused) as refused:
        resolve_checked("mixed.example", 80)
    assert "10.0.0.1" in refused.value.reason


def test_a_name_that_does_not_resolve_is_a_network_error_not_a_refusal():
    with pytest.raises(UnresolvableHost) as error:
        resolve_checked("no-such-host.invalid", 80)
    assert "does not resolve" in str(error.value)
    assert not isinstance(error.value, TargetRefused)


def test_private_targets_are_reached_when_allowed(get, receiver):
    assert get(f"http://127.0.0.1:{receiver.port}/postback?subid=1", allow_private=True) == 200
    assert [(r["path"], r["raw_query"], r["headers"]["Host"]) for r in receiver.requests] == [
        ("/postback", "subid=1", f"127.0.0.1:{receiver.port}")
    ]


def test_the_connection_goes_to_the_checked_address_even_if_dns_changes(get, monkeypatch, receiver):
    answers = iter([["127.0.0.1"]])
    fake_dns(monkeypatch, {"rebind.example": lambda: next(answers, ["10.255.255.1"])})
    assert get(f"http://rebind.example:{receiver.port}/x", allow_private=True) == 200
    assert [(r["path"], r["headers"]["Host"]) for r in receiver.requests] == [
        ("/x", f"rebind.example:{receiver.port}")
    ], "the name is kept for the Host header while the connection goes to the checked IP"


def test_redirects_are_not_followed(get):
    target = FakeReceiver()
    redirecting = FakeReceiver([(302, {"Location": f"http://127.0.0.1:{target.port}/inside"}, "")])
    try:
        assert get(f"http://127.0.0.1:{redirecting.port}/", allow_private=True) == 302
        assert target.requests == []
    finally:
        target.close()
        redirecting.close()


def test_environment_proxies_are_ignored(get, monkeypatch, receiver):
    monkeypatch.setenv("HTTP_PROXY", "http://10.0.0.1:3128")
    monkeypatch.setenv("NO_PROXY", "")
    assert get(f"http://127.0.0.1:{receiver.port}/p", allow_private=True) == 200
    assert receiver.requests[0]["path"] == "/p"


def test_a_password_in_the_url_is_sent_as_basic_auth(get, receiver):
    assert get(f"http://tracker:p%40ss@127.0.0.1:{receiver.port}/p?x=1", allow_private=True) == 200
    (request,) = receiver.requests
    headers = {name.lower(): value for name, value in request["headers"].items()}
    assert headers["authorization"] == "Basic " + base64.b64encode(b"tracker:p@ss").decode()
    assert headers["host"] == f"127.0.0.1:{receiver.port}"


def test_characters_a_request_line_cannot_carry_are_percent_encoded(get, receiver):
    assert get(f"http://127.0.0.1:{receiver.port}/p?sub=a b|é&ok=%41", allow_private=True) == 200
    assert receiver.requests[0]["query"] == {"sub": "a b|é", "ok": "A"}
    assert " " not in receiver.requests[0]["raw_query"]


def test_an_operators_ca_bundle_is_still_used_for_certificates(monkeypatch, tmp_path):
    bundle = tmp_path / "ca.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    assert outbound_session().verify == str(bundle)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    assert outbound_session().verify is True


def test_the_aiohttp_session_trusts_certifi_or_the_operators_bundle(monkeypatch):
    loaded = []
    monkeypatch.setattr(
        "ssl.SSLContext.load_verify_locations", lambda self, cafile=None, *args, **kwargs: loaded.append(cafile)
    )
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)

    async def make():
        await outbound_client_session().close()

    run_outbound(make())
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/affnet/ca.pem")
    run_outbound(make())
    assert loaded == [certifi.where(), "/etc/affnet/ca.pem"]
