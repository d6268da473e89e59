"""SPEC section 1 against hostile input: whatever a request to ``/r`` holds
(random or hostile query strings, bad UTF-8, NUL, CR/LF, long and repeated
parameters, hostile headers, any method), the answer is a 302 to the offer's
landing (or the fallback URL), a 404 or a 405; never a 500, never a Location
taken from the request, never a header line of the request's making; and the
click answered is loaded into the database with its values as sent.

The properties call the WSGI app with a hand-made environ, so the bytes reach
``/r`` as a server passes them (PEP 3333: ``QUERY_STRING`` and headers are
``str`` of latin-1-decoded bytes); one test sends raw bytes to a real
``affnet serve``."""

import io
import re
import socket
import sqlite3
import subprocess
import time
from urllib.parse import parse_qsl, quote, quote_from_bytes, unquote, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, example, given, reject, settings, strategies as st

from affnet.core.clicks import tracking
from affnet.core.network import accounts
from affnet.core.storage.models import Click
from affnet.testing import load_clicks

# A landing with a query of its own (an escaped "&", an empty value, a "+") and a fragment.
LANDING = "https://shop.example/p/a%20b?lang=en&utm=a%26b&empty=&q=1+2#plans/x?y=1"
FALLBACK = "https://network.example/offers?from=affnet"
SUBS = ["fbclid", "clickid"] + [f"s{n}" for n in range(1, 11)]
HOSTILE = [
    b"\x00",
    b"a\x00b",
    b"\r\n",
    b"\r\nSet-Cookie: evil=1",
    b"\r\nLocation: https://evil.example/",
    b"\n\\.\n",  # PostgreSQL's COPY end-of-data marker, alone on a line
    b"\\.",
    b"\xff\xfe",  # never UTF-8
    b"\xc3",  # a cut UTF-8 sequence
    b"\xed\xa0\x80",  # an encoded surrogate
    b"\xef\xbf\xbf",  # a noncharacter
    "é😀".encode(),
    b"%",
    b"%zz",
    b"&",
    b"=",
    b"+",
    b"#",
    b";",
    b'"',
    b",",
    b"\\",
    b"https://evil.example/",
    b"//evil.example",
]


def _encoded(data: bytes, raw: bool) -> bytes:
    """``data`` as it appears in a query string: every byte percent-encoded,
    or sent raw (bad UTF-8, NUL, CR/LF as they are) but for the bytes that
    would split the query (``&``, ``=``, ``%``, ``+``)."""
    if not raw:
        return quote_from_bytes(data, safe="").encode()
    return b"".join(b"%%%02X" % byte if byte in b"&=%+" else bytes([byte]) for byte in data)


values = st.one_of(
    st.binary(max_size=24),
    st.text(max_size=24).map(str.encode),
    st.lists(st.sampled_from(HOSTILE) | st.text(max_size=4).map(str.encode), max_size=5).map(b"".join),
    st.tuples(st.sampled_from([b"x", b"\xc3\xa9", b"\xff", b"\x00", b"\r\n"]), st.integers(200, 3000)).map(
        lambda unit: unit[0] * unit[1]
    ),
)
names = st.sampled_from(
    [name.encode() for name in SUBS + ["ref", "click_id", "url", "next", "gclid", "ttclid"]]
) | st.binary(max_size=8)
params = st.lists(st.tuples(names, values, st.booleans()), max_size=14)
live_refs = st.tuples(st.sampled_from(["live", "fragment"]), st.just(""))
refs = st.one_of(  # a role of ``links``, as it is or with something added, or any bytes
    live_refs,
    live_refs,
    st.tuples(
        st.sampled_from(["live", "fragment", "paused", "pending", "nope"]),
        st.sampled_from(["", "\x00", "\r\n", " ", "%", "é", "/"]),
    ),
    st.binary(max_size=70),
)
latin1 = st.text(st.characters(max_codepoint=255), max_size=60)
header_values = st.none() | latin1 | st.sampled_from(["\r\nSet-Cookie: evil=1", "a\x00b", "x" * 20000, "é" * 3000])
cookies = st.tuples(st.sampled_from(["none", "own", "suffix", "other", "random"]), latin1)
forwarded = st.fixed_dictionaries(  # what a proxy (or anyone) says of the client
    {},
    optional={
        "X-Forwarded-For": header_values | st.sampled_from(["203.0.113.9", "1.1.1.1, 203.0.113.9", ",", '"a,b"']),
        "X-Forwarded-Proto": header_values | st.sampled_from(["https", "http, https", "https\r\n", "HTTPS"]),
        "X-Forwarded-Host": header_values | st.sampled_from(["evil.example", "evil.example/\r\nX-Injected: 1"]),
    },
)
methods = st.one_of(
    st.just("GET"),
    st.just("GET"),
    st.just("HEAD"),
    st.sampled_from(["POST", "PUT", "DELETE", "OPTIONS", "get", "GET\r\nX: 1"]),
)


@pytest.fixture
def links(affnet_network):
    """Refs by role (the network's live one, a live one whose landing has a
    query and a fragment, one on a paused offer, one not approved) and the
    landing of each live one."""
    advertiser, affiliate = affnet_network.advertiser, affnet_network.affiliate
    offer, _ = accounts.create_offer(advertiser, "Fragment", LANDING)
    fragment = accounts.apply(affiliate, offer)
    accounts.set_participation_status(fragment, "approved")
    pending = accounts.apply(accounts.create_user("late@example.com", "affiliate")[0], offer)
    paused_offer, _ = accounts.create_offer(advertiser, "Paused", "https://paused.example/")
    paused = accounts.apply(affiliate, paused_offer)
    accounts.set_participation_status(paused, "approved")
    accounts.set_offer_active(paused_offer, False)
    refs = {
        "live": affnet_network.ref,
        "fragment": fragment.ref_code,
        "paused": paused.ref_code,
        "pending": pending.ref_code,
        "nope": "nope",
    }
    return refs, {refs["live"]: affnet_network.offer.landing_url, refs["fragment"]: LANDING}


def _request(app, method, query: bytes, headers: dict, scheme="http"):
    """Call the WSGI app as a server would; returns the status, the headers,
    and the environ as ``/r`` saw it (a proxy's word applied when trusted)."""
    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": "/r",
        "QUERY_STRING": query.decode("latin-1"),
        "SERVER_NAME": "track.example",
        "SERVER_PORT": "443" if scheme == "https" else "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "198.51.100.7",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    environ.update(
        {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items() if value is not None}
    )
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"], answer["headers"] = status, response_headers

    body = app.wsgi_app(environ, start_response)
    b"".join(body)
    if hasattr(body, "close"):
        body.close()
    return answer["status"], answer["headers"], environ


def _as_stored(value: str | None, limit: int = 255) -> str | None:
    """What the spool promises to keep of a text: no NUL (PostgreSQL refuses
    it), at most ``limit`` characters, None when nothing is left."""
    value = (value or "").replace("\x00", "")[:limit]
    return value or None


def _assert_clean_headers(headers):
    for name, value in headers:
        for text in (name, value):
            assert isinstance(text, str)
            assert not {"\r", "\n", "\x00"} & set(text), f"header {name!r}: {value!r}"
            text.encode("latin-1")


def _check(app, links, ref_key, pairs, method, user_agent, referer, cookie, scheme, forwarded, fallback):
    refs, landings = links
    ref_bytes = ref_key if isinstance(ref_key, bytes) else (refs[ref_key[0]] + ref_key[1]).encode()
    pairs = list(pairs)
    pairs.insert(len(pairs) // 2, (b"ref", ref_bytes, False))
    query = b"&".join(_encoded(name, raw) + b"=" + _encoded(value, raw) for name, value, raw in pairs)
    sent = {}
    for name, value, _ in pairs:  # what the link says: the last of repeated parameters, as UTF-8
        sent[name.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    kind, junk = cookie
    cookie_name = f"affnet_{sent['ref']}"
    cookie_header = {
        "none": None,
        "own": f"{junk}; {cookie_name}=earlier",
        "suffix": f"x{cookie_name}=earlier; {junk}",
        "other": f"affnet_someoneelse=1; {junk}",
        "random": junk,
    }[kind]
    headers = {"User-Agent": user_agent, "Referer": referer, "Cookie": cookie_header, **forwarded}
    before = Click.select().count()

    status, response_headers, seen = _request(app, method, query, headers, scheme)

    _assert_clean_headers(response_headers)
    answer = dict(response_headers)
    if method not in ("GET", "HEAD"):
        assert status.startswith("405 ") and answer["Allow"] == "GET, HEAD"
        load_clicks(app)
        assert Click.select().count() == before
        return
    landing = landings.get(sent["ref"])
    if landing is None:
        if fallback:
            assert status.startswith("302 ") and answer["Location"] == fallback
        else:
            assert status.startswith("404 ") and "Location" not in answer
        assert "Set-Cookie" not in answer
        load_clicks(app)
        assert Click.select().count() == before, "no click for a ref that leads nowhere"
        return

    assert status.startswith("302 "), status
    click_id = answer["Location"].partition("#")[0].rpartition("&click_id=")[2]
    _assert_redirects_to(answer["Location"], landing, click_id)
    secure = "; Secure" if seen["wsgi.url_scheme"] == "https" else ""
    assert answer["Set-Cookie"] == (
        f"{cookie_name}={click_id}; Max-Age={60 * 86400}; HttpOnly; Path=/; SameSite=Lax{secure}"
    )

    load_clicks(app)
    assert Click.select().count() == before + 1, "the click answered is in the database"
    row = Click.get(Click.click_id == click_id)
    assert {name: getattr(row, name) for name in SUBS} == {name: _as_stored(sent.get(name)) for name in SUBS}
    assert row.user_agent == _as_stored(user_agent, 1000)
    assert row.referer == _as_stored(referer, 2000)
    assert row.ip == _as_stored(seen["REMOTE_ADDR"])
    assert tracking.ad_click_ids(row.ad_click_ids) == {
        name: _as_stored(sent[name]) for name in tracking.AD_CLICK_IDS if _as_stored(sent.get(name))
    }
    assert row.is_unique is (kind != "own")
    assert row.is_bot is (method == "HEAD" or tracking.is_bot(user_agent, "GET"))


common = dict(
    ref_key=refs,
    pairs=params,
    method=methods,
    user_agent=header_values,
    referer=header_values,
    cookie=cookies,
    scheme=st.sampled_from(["http", "https"]),
    forwarded=forwarded,
)
hostile_example = dict(
    ref_key=("fragment", ""),
    pairs=[(b"s1", b"\r\nSet-Cookie: evil=1", True), (b"s2", b"a\x00b\xff", True), (b"s3", b"\n\\.\n", False)],
    method="GET",
    user_agent="\r\nX-Injected: 1",
    referer="a\x00\r\n",
    cookie=("own", "\r\n\x00"),
    scheme="https",
    forwarded={"X-Forwarded-For": "\r\n\x00", "X-Forwarded-Host": "evil.example"},
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(**common)
@example(**hostile_example)
def test_any_request_to_r_answers_302_to_the_landing_404_or_405_and_its_click_is_stored(
    affnet_app, links, ref_key, pairs, method, user_agent, referer, cookie, scheme, forwarded
):
    _check(affnet_app, links, ref_key, pairs, method, user_agent, referer, cookie, scheme, forwarded, fallback=None)


@pytest.mark.parametrize("affnet_config", [{"tracking.fallback_url": FALLBACK}])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(**common)
@example(**{**hostile_example, "ref_key": ("fragment", "\r\n")})
def test_with_a_fallback_url_a_ref_that_leads_nowhere_goes_there_and_nowhere_else(
    affnet_app, links, ref_key, pairs, method, user_agent, referer, cookie, scheme, forwarded
):
    _check(affnet_app, links, ref_key, pairs, method, user_agent, referer, cookie, scheme, forwarded, fallback=FALLBACK)


@pytest.mark.parametrize("affnet_config", [{"behind_proxy": True}])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(**common)
@example(**{**hostile_example, "forwarded": {"X-Forwarded-For": "a\x00" * 300, "X-Forwarded-Proto": "https\r\n"}})
def test_behind_a_proxy_what_it_says_of_the_client_never_moves_the_redirect_and_is_stored_clipped(
    affnet_app, links, ref_key, pairs, method, user_agent, referer, cookie, scheme, forwarded
):
    _check(affnet_app, links, ref_key, pairs, method, user_agent, referer, cookie, scheme, forwarded, fallback=None)


# What a product owner may type as a landing URL: any text around the parts an offer checks.
landing_texts = st.text(max_size=12).filter(lambda text: "click_id" not in text)
landing_urls = st.builds(
    lambda scheme, host, path, query, fragment: f"{scheme}://{host}{path}{query}{fragment}",
    st.sampled_from(["https", "http"]),
    st.sampled_from(["shop.example", "bücher.example", "tienda.example:8443", "user:pw@shop.example", "[::1]:8080"]),
    landing_texts.map(lambda text: "/" + text.replace("?", "").replace("#", "")) | st.just(""),
    st.none().map(lambda _: "") | landing_texts.map(lambda text: "?" + text.replace("#", "")),
    st.none().map(lambda _: "") | landing_texts.map(lambda text: "#" + text),
)
_BROWSER_DROPS = str.maketrans("", "", "\t\r\n")  # a browser drops these anywhere in a URL
_BROWSER_TRIMS = "".join(map(chr, range(33)))  # and strips C0 controls and spaces around it
_PRINTABLE = "".join(map(chr, range(33, 127)))


def _assert_redirects_to(location: str, landing: str, click_id: str):
    """``location`` is printable ASCII and leads where ``landing`` leads in a
    browser, with the landing's own query (less empty pieces) as it is and
    ``click_id`` added last; a landing in printable ASCII is kept to the byte."""
    assert re.fullmatch(r"[!-~]+", location), location
    landing = landing.translate(_BROWSER_DROPS).strip(_BROWSER_TRIMS)
    base, hash_, fragment = landing.partition("#")
    base, _, query = base.partition("?")
    pieces = [piece for piece in query.split("&") if piece]
    expected = f"{base}?{'&'.join(pieces + ['click_id=' + click_id])}{hash_}{fragment}"
    if re.fullmatch(r"[!-~]+", landing):
        assert location == expected
    assert location.split("?", 1)[0] == quote(base, safe=_PRINTABLE)
    assert unquote(location) == unquote(expected)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(landing=landing_urls)
@example(landing="https://tienda.example/señal/€?q=ñ&sig=a%2Fb%3D&flag#sección")  # not latin-1: a 500 in gunicorn
@example(landing="https://shop.example/a\x00b?x=1")  # NUL: gunicorn refuses the header
@example(landing="https://shop.example/ a b?q=%FF&r=%zz")  # the landing's own escapes were re-encoded
@example(landing="https://shop.example/CLICKIDMARKER")  # was the marker of the redirect's parts
@example(landing="https://shop.example/p\r\nSet-Cookie: evil=1?x#f")
def test_any_landing_an_offer_accepts_is_redirected_to_in_printable_ascii_with_its_own_query_kept(
    affnet_app, affnet_network, landing
):
    try:
        offer, _ = accounts.create_offer(affnet_network.advertiser, "Landing", landing)
    except (accounts.AccountError, ValueError):  # refused (PostgreSQL refuses a NUL in text)
        reject()
    participation = accounts.apply(affnet_network.affiliate, offer)
    accounts.set_participation_status(participation, "approved")
    query = b"ref=" + participation.ref_code.encode() + b"&s1=x"
    status, headers, _ = _request(affnet_app, "GET", query, {"User-Agent": "Mozilla/5.0"})
    assert status.startswith("302 ")
    _assert_clean_headers(headers)
    location = dict(headers)["Location"]
    load_clicks(affnet_app)
    [click_id] = [row.click_id for row in Click.select().where(Click.offer == offer)]
    _assert_redirects_to(location, landing, click_id)


@pytest.mark.parametrize("affnet_config", [{"tracking.fallback_url": "https://red.example/señal/\x00€?de=ñ"}])
def test_a_fallback_url_with_text_that_is_not_ascii_is_sent_percent_encoded(affnet_app):
    status, headers, _ = _request(affnet_app, "GET", b"ref=nope", {})
    _assert_clean_headers(headers)
    assert status.startswith("302 ")
    assert dict(headers)["Location"] == "https://red.example/se%C3%B1al/%00%E2%82%AC?de=%C3%B1"


def test_utf8_sent_unescaped_in_the_query_is_stored_as_the_text_it_encodes(affnet_app, links):
    """A server hands ``/r`` the raw bytes of the query as latin-1; "é" sent
    unescaped is stored as "é" (not "Ã©"), bytes that are not UTF-8 as "\ufffd"."""
    refs, _ = links
    query = b"ref=" + refs["live"].encode() + b"&s1=caf\xc3\xa9&s2=\xff&clickid=\xe2\x82\xac1"
    status, headers, _ = _request(affnet_app, "GET", query, {"User-Agent": "Mozilla/5.0"})
    assert status.startswith("302 ")
    load_clicks(affnet_app)
    row = Click.get(Click.click_id == dict(parse_qsl(urlsplit(dict(headers)["Location"]).query))["click_id"])
    assert (row.s1, row.s2, row.clickid) == ("café", "\ufffd", "€1")


SPANISH_LANDING = "https://susurra.example/señal/€?lang=en"


@pytest.fixture
def served(tmp_path):
    """``affnet serve`` (gunicorn and the worker) on a new SQLite instance with
    the demo network, its offer's landing in Spanish ("señal") with a "€";
    yields its port, a live ref and the database's path."""
    from tests.processes import Instance, Processes, wait_until

    instance = Instance(tmp_path)
    instance.json("init")
    demo = instance.json("demo")
    subprocess.run(
        [*instance.command, "offers", "edit", "susurra", "--landing-url", SPANISH_LANDING],
        env=instance.env,
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    env, affnet, port = instance.env, instance.command, instance.port
    processes = Processes(tmp_path)
    try:
        processes.start("serve", affnet + ["serve"], env)
        wait_until(lambda: _healthy(port), time.monotonic() + 40, "affnet serve's /healthz")
        yield port, demo["affiliates"][0]["ref_code"], tmp_path / "affnet.db"
    finally:
        processes.stop_all()


def _healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except requests.RequestException:  # not listening yet, or too busy starting to answer in time
        return False


def _raw_exchange(port: int, request: bytes) -> tuple[int, list[bytes]]:
    """Send ``request`` as it is; returns the answer's status and header lines."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head = answer.split(b"\r\n\r\n", 1)[0]
    status_line, *lines = head.split(b"\r\n")
    return int(status_line.split()[1]), lines


def _stored_click(database, click_id: str, seconds: float = 15) -> dict:
    """The click's row once the worker has loaded it from the spool."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with sqlite3.connect(database) as connection:
            connection.row_factory = sqlite3.Row
            row = connection.execute("SELECT * FROM click WHERE click_id = ?", (click_id,)).fetchone()
        if row is not None:
            return dict(row)
        time.sleep(0.2)
    raise AssertionError(f"click {click_id} was answered but never reached the database")


@pytest.mark.slow
def test_raw_hostile_requests_to_a_real_server_never_answer_500_nor_carry_an_injected_header(served):
    port, ref, database = served
    ref = ref.encode()
    tail = b" HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: \xff\xfeMozilla/5.0\r\nConnection: close\r\n\r\n"
    hostile = (
        b"&s1=%0d%0aSet-Cookie:%20evil=1&s2=a%00b&s3=%FF%FE%C3%A9&s4=%0aX-Injected:%201&s5=\\."
        b"&s6=" + b"x" * 300 + b"&s1=%0D%0ALocation:%20https://evil.example/"
    )
    status, lines = _raw_exchange(port, b"GET /r?ref=" + ref + hostile + tail)
    assert status == 302
    headers = [line.split(b": ", 1) for line in lines]
    assert all(len(pair) == 2 and b"\n" not in line and b"\r" not in line for pair, line in zip(headers, lines))
    [location] = [value for name, value in headers if name.lower() == b"location"]
    assert location.startswith(b"https://susurra.example/se%C3%B1al/%E2%82%AC?lang=en&click_id=")
    [cookie] = [value for name, value in headers if name.lower() == b"set-cookie"]
    click_id = cookie.split(b";")[0].split(b"=", 1)[1].decode()
    assert location.endswith(b"click_id=" + click_id.encode())
    assert not any(name.lower() in (b"x-injected", b"evil") for name, _ in headers)
    row = _stored_click(database, click_id)
    assert [row[f"s{n}"] for n in range(1, 7)] == [
        "\r\nLocation: https://evil.example/",
        "ab",
        "\ufffd\ufffdé",
        "\nX-Injected: 1",
        "\\.",
        "x" * 255,
    ]
    assert row["user_agent"].endswith("Mozilla/5.0")

    for request, allowed in (
        (b"GET /r?ref=%0d%0aX-Injected:%201" + tail, {404}),
        (b"GET /r?ref=" + ref + b"%00" + tail, {404}),
        (b"GET /r?ref=\xff\xfe" + ref + tail, {400, 404}),  # gunicorn refuses bytes that are not ASCII
        (b"GET /r?ref=" + ref + b"&s1=\xc3\xa9\xff" + tail, {302, 400}),
        (b"GET /r?ref=" + ref + b"&s1=" + b"y" * 20000 + tail, {302, 400, 414}),
        (b"GET /r?ref=" + ref + b"&s1=a\rb" + tail, {302, 400}),
        (b"GET /r?ref=" + ref + b"&s1=a\x00b" + tail, {302, 400}),
        (
            b"GET /r?ref="
            + ref
            + b" HTTP/1.1\r\nHost: x\r\nReferer: "
            + b"z" * 9000
            + b"\r\nConnection: close\r\n\r\n",
            {302, 400, 431},
        ),
        (
            b"GET /r?ref="
            + ref
            + b" HTTP/1.1\r\nHost: x\r\nUser-Agent: a\r\n X-Injected: 1\r\nConnection: close\r\n\r\n",
            {302, 400},
        ),
        (b"POST /r?ref=" + ref + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", {405}),
    ):
        status, lines = _raw_exchange(port, request)
        assert status in allowed, (request[:80], status)
        assert not any(line.lower().startswith((b"x-injected", b"evil")) for line in lines), lines
