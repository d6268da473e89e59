"""A click: find where a refCode leads, record the visit, build the redirect.

This is the hot path. It makes no outbound call and calls no plugin; the
route of a refCode is kept in memory for ``cache_seconds`` and the web layer
spools the click row (``affnet.core.clicks.spool``), so the redirect waits for no
database.

While the database does not answer, a refCode is served from the last route
loaded for it, however old (a visitor is still redirected and the click is
spooled); a refCode this process never loaded gets the 404 page or the
fallback URL. A click's values are stored as sent, less NUL characters,
which PostgreSQL cannot store in text.

Besides the SPEC's ``s1``…``s10``, ``fbclid`` and ``clickid``, the link keeps
the click id of every ad platform in ``AD_CLICK_IDS``: the ones a click
carries are stored together in one column as a small JSON object (nothing
when it carries none), each cut to 255 characters like the sub ids.
"""

import base64
import json
import os
import re
import threading
from dataclasses import dataclass
from functools import cached_property, lru_cache
from urllib.parse import quote, unquote_plus

from .. import clock
from ..storage.cache import TTLCache
from ..storage.db import DATABASE_ERRORS, db
from ..storage.models import Click, Offer, Participation
from . import rollup

COOKIE_PREFIX = "affnet_"
_BOT_AGENTS = re.compile(
    r"bot|crawl|spider|slurp|preview|facebookexternalhit|facebookcatalog|headless|"
    r"curl|wget|python-requests|python-urllib|httpclient|okhttp|go-http-client|"
    r"lighthouse|pingdom|monitor|scanner|whatsapp|telegram|skypeuripreview|discord|"
    r"embedly|quora link|bitlybot|vkshare|outbrain|pinterest|slack|linkedin"
)
_SUB_LIMIT = 255

# The click ids ad platforms add to a link, by the query parameter's name (as
# each platform spells it). Meta's ``fbclid`` has a column of its own (SPEC).
AD_CLICK_IDS = {
    "gclid": "Google Ads",
    "gbraid": "Google Ads (iOS app campaigns)",
    "wbraid": "Google Ads (iOS web campaigns)",
    "dclid": "Google Display & Video 360, Campaign Manager 360",
    "msclkid": "Microsoft Advertising",
    "ttclid": "TikTok",
    "twclid": "X (Twitter)",
    "li_fat_id": "LinkedIn",
    "ScCid": "Snapchat",
    "rdt_cid": "Reddit",
    "epik": "Pinterest",
    "tblci": "Taboola",
    "qclid": "Quora",
    "yclid": "Yandex Direct",
    "awclid": "Amazon Ads",
}
_AD_CLICK_ID_NAMES = frozenset(AD_CLICK_IDS)
_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_REF = re.compile(r"[A-Za-z0-9_.~-]{1,64}")  # refCodes are base58; nothing else can name a participation


@dataclass(frozen=True)
class Route:
    participation_id: int
    offer_id: int
    affiliate_id: int
    landing_url: str
    cookie_days: int
    ref_code: str

    @cached_property
    def redirect_parts(self) -> tuple[str, str]:
        """The landing URL split around its click id, worked out once per route:
        ``prefix + click_id + suffix`` is ``landing_url_with_click``."""
        return _redirect_parts(self.landing_url)

    def redirect_to(self, click_id: str) -> str:
        prefix, suffix = self.redirect_parts
        return prefix + click_id + suffix


routes = TTLCache(5)


def find_route(ref: str, cached: bool = True) -> Route | None:
    """Where ``ref`` leads, or None when it is unknown, unapproved or paused
    (or its offer is paused). ``cached``: from memory when it is there, and
    from the last route loaded while the database does not answer (None when
    there is none)."""
    if not _REF.fullmatch(ref):
        return None
    if not cached:
        return _load_route(ref)
    try:
        return routes.get(ref, lambda: _load_route(ref), stale_on=DATABASE_ERRORS)
    except DATABASE_ERRORS:
        return None


def _load_route(ref: str) -> Route | None:
    opened = db.is_closed()  # the click path has no connection of its own: take one from the pool and give it back
    if opened:
        db.connect()
    try:
        row = (
            Participation.select(
                Participation.id,
                Participation.status,
                Participation.affiliate,
                Participation.ref_code,
                Offer.id,
                Offer.landing_url,
                Offer.cookie_days,
                Offer.is_active,
            )
            .join(Offer)
            .where(Participation.ref_code == ref)
            .first()
        )
    finally:
        if opened:
            db.close()
    if row is None or row.status != "approved" or not row.offer.is_active:
        return None
    return Route(row.id, row.offer.id, row.affiliate_id, row.offer.landing_url, row.offer.cookie_days, row.ref_code)


def forget_route(ref: str) -> None:
    """Drop a cached route in this process (others expire by their TTL)."""
    routes.forget(ref)


_entropy = bytearray()
_entropy_lock = threading.Lock()
os.register_at_fork(after_in_child=_entropy.clear)  # a forked child must never reuse its parent's bytes


def new_click_id() -> str:
    """128 random bits from the OS's CSPRNG, URL-safe. The bytes are read
    4 KiB at a time: one system call per 256 clicks instead of one per click."""
    with _entropy_lock:
        if len(_entropy) < 16:
            _entropy.extend(os.urandom(4096))
        chunk = bytes(_entropy[:16])
        del _entropy[:16]
    return base64.urlsafe_b64encode(chunk).rstrip(b"=").decode()


def is_bot(user_agent: str | None, method: str) -> bool:
    return method == "HEAD" or not user_agent or _is_bot_agent(user_agent)


@lru_cache(maxsize=8192)
def _is_bot_agent(user_agent: str) -> bool:
    """Traffic repeats a few thousand user agents: each is matched once."""
    return bool(_BOT_AGENTS.search(user_agent.lower()))


def cookie_name(route: Route) -> str:
    return COOKIE_PREFIX + route.ref_code


def has_cookie(header: str | None, name: str) -> bool:
    """Whether the ``Cookie`` header holds a cookie called ``name`` (not one
    whose name merely ends with it, such as ``x`` + ``name``)."""
    if not header:
        return False
    wanted = name + "="
    at = header.find(wanted)
    while at != -1:
        if at == 0 or header[at - 1] in " ;":  # cookie pairs are separated by "; " (some clients send ";")
            return True
        at = header.find(wanted, at + 1)
    return False


def storable(value: str | None) -> str | None:
    """A click's text as both databases store it: without NUL characters
    (PostgreSQL refuses them in text), None when nothing is left. The spool's
    loader passes older files' values through here too."""
    if value and "\x00" in value:
        value = value.replace("\x00", "")
    return value or None


def _text(value, limit: int):
    """A text as stored: None when empty, at most ``limit`` characters, no NUL."""
    value = storable(value)
    return value[:limit] if value else None


def _clip(value):
    return _text(value, _SUB_LIMIT)


def click_row(route: Route, args, *, ip, user_agent, referer, method, has_cookie, now=None) -> dict:
    """The click as a row, ready to insert: ``args`` are the link's query."""
    row = {
        "click_id": new_click_id(),
        "created_at": now or clock.now(),
        "participation": route.participation_id,
        "offer": route.offer_id,
        "affiliate": route.affiliate_id,
        "fbclid": _clip(args.get("fbclid")),
        "clickid": _clip(args.get("clickid")),
        "ip": _clip(ip),
        "user_agent": _text(user_agent, 1000),
        "referer": _text(referer, 2000),
        "is_unique": not has_cookie,
        "is_bot": is_bot(user_agent, method),
    }
    for n in range(1, 11):
        row[f"s{n}"] = _clip(args.get(f"s{n}"))
    row["ad_click_ids"] = ad_click_ids_text(args)
    return row


def ad_click_ids_text(args) -> str | None:
    """The ad platforms' click ids among ``args``, as stored: a compact JSON
    object in ``AD_CLICK_IDS`` order, or None when there are none."""
    present = _AD_CLICK_ID_NAMES.intersection(args)
    if not present:
        return None
    found = {name: value for name in AD_CLICK_IDS if name in present and (value := _clip(args[name]))}
    return _json(found) if found else None


def ad_click_ids(text: str | None) -> dict[str, str]:
    """The stored column back as ``{name: click id}`` (empty for none)."""
    return json.loads(text) if text else {}


def record_click(route: Route, args, **request_facts) -> dict:
    """Insert one click straight into the database (demo data and
    benchmarks; the web path spools it); returns its row."""
    row = click_row(route, args, **request_facts)
    with db.atomic():
        Click.insert(row).execute()
        rollup.reopen(row["created_at"])
    return row


def landing_url_with_click(landing_url: str, click_id: str) -> str:
    """The landing URL with ``click_id`` added last to its query (replacing
    one already there), as ``location_url`` sends it; the landing's own
    query is kept as written (a signed landing URL stays valid)."""
    prefix, suffix = _redirect_parts(landing_url)
    return prefix + click_id + suffix


def _redirect_parts(landing_url: str) -> tuple[str, str]:
    url, hash_, fragment = location_url(landing_url).partition("#")
    base, _, query = url.partition("?")
    kept = [piece for piece in query.split("&") if piece and unquote_plus(piece.split("=", 1)[0]) != "click_id"]
    return f"{base}?{''.join(piece + '&' for piece in kept)}click_id=", hash_ + fragment


_URL_DROPS = str.maketrans("", "", "\t\r\n")
_URL_TRIMS = "".join(map(chr, range(33)))
_PRINTABLE_ASCII = "".join(map(chr, range(33, 127)))


def location_url(url: str) -> str:
    """``url`` as a ``Location`` header can carry it, leading where a browser
    given ``url`` goes: tabs and line breaks dropped and C0 controls and
    spaces stripped around it (browsers do both), every other character that
    is not printable ASCII (a space, a NUL, "ñ", "€", a host in Unicode)
    percent-encoded as UTF-8. Printable ASCII, escapes included, is kept.
    Landing and fallback URLs are typed by people: a character outside
    latin-1 or a control in a header is a 500 from the server."""
    return quote(url.translate(_URL_DROPS).strip(_URL_TRIMS), safe=_PRINTABLE_ASCII)
