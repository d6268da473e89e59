"""A small demo network, so a newcomer sees every feature within a minute.

An advertiser with the offer "Susurra", two approved affiliates, clicks
(some from bots, some repeat visitors), a lead, trials, sales, a rebill and a
refund, all recorded through the same core calls as real traffic.
"""

import random
from datetime import timedelta
from decimal import Decimal

from .network import accounts
from . import clock
from .clicks import tracking
from .events.ingest import Conversion, Reversal
from .storage.models import Offer

AGENTS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 [FBAN/FBIOS]",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
]


class DemoExists(Exception):
    pass


def make_demo(recorder, base_url: str = "http://127.0.0.1:8000", progress=None, seed: int = 7) -> dict:
    """Make the demo network; returns its keys, refCodes and passwords."""
    say = progress or (lambda line: None)
    if Offer.select().where(Offer.slug == "susurra").exists():
        raise DemoExists("the demo offer 'susurra' exists already: use a new database for a fresh demo")
    rng = random.Random(seed)
    advertiser, advertiser_password = accounts.create_user("owner@susurra.example", "advertiser", "Susurra Ltd")
    offer, key = accounts.create_offer(
        advertiser,
        "Susurra",
        "https://susurra.example/start?lang=en",
        currency="USD",
        rules=[accounts.RuleSpec.parse(text) for text in ("lead=0.50", "trial=2.00", "sale=30%", "rebill=20%:12")],
        description="Sleep sounds app, monthly subscription $29.",
        slug="susurra",
    )
    affiliates = []
    for email, name in (("ana@affiliates.example", "Ana Media"), ("bo@affiliates.example", "Bo Traffic")):
        user, password = accounts.create_user(email, "affiliate", name)
        participation = accounts.apply(user, offer)
        accounts.set_participation_status(participation, "approved")
        affiliates.append(
            {
                "email": email,
                "password": password,
                "ref_code": participation.ref_code,
                "link": f"{base_url}/r?ref={participation.ref_code}&s1=demo",
                "participation": participation,
            }
        )
    say("made the advertiser, the offer Susurra and two affiliates")
    start = clock.now() - timedelta(days=20)
    clicks = []
    for n in range(120):
        who = affiliates[n % 2]
        route = tracking.find_route(who["ref_code"], cached=False)
        at = start + timedelta(minutes=rng.randint(0, 20 * 24 * 60))
        args = {
            "s1": f"campaign-{n % 3}",
            "s2": rng.choice(["feed", "stories", "reels"]),
            "fbclid": f"IwAR{rng.getrandbits(64):x}",
            "clickid": f"kt{n:05d}",
        }
        clicks.append(
            (
                at,
                tracking.record_click(
                    route,
                    args,
                    ip=f"203.0.113.{n % 250}",
                    user_agent=rng.choice(AGENTS),
                    referer="https://facebook.com/",
                    method="GET",
                    has_cookie=n % 7 == 0,
                    now=at,
                ),
            )
        )
    say(f"recorded {len(clicks)} clicks")
    events = 0
    clicks.sort(key=lambda pair: pair[0])
    for n, (at, click) in enumerate(clicks[:40]):
        customer = f"cus_demo{n:03d}"
        kinds = ["lead"] if n % 4 == 0 else ["trial", "sale"] if n % 4 == 1 else ["sale"]
        for step, kind in enumerate(kinds):
            when = at + timedelta(hours=1 + step * 72)
            paid = kind == "sale"
            recorder.conversion(
                offer,
                Conversion(
                    kind,
                    click["click_id"],
                    customer,
                    f"pi_demo{n:03d}" if paid else None,
                    Decimal("29.00") if paid else None,
                    "USD" if paid else None,
                    paid,
                ),
                source="demo",
                now=min(when, clock.now()),
            )
            events += 1
        if n % 4 == 2:
            recorder.conversion(
                offer,
                Conversion("rebill", None, customer, f"pi_demo{n:03d}_m2", Decimal("29.00"), "USD", False),
                source="demo",
                now=min(at + timedelta(days=30), clock.now()),
            )
            events += 1
    recorder.reversal(offer, Reversal("refund", "pi_demo002", None, None), source="demo")
    events += 1
    say(f"recorded {events} events, one of them a refund")
    return {
        "offer": offer.slug,
        "offer_key": key,
        "advertiser": {"email": advertiser.email, "password": advertiser_password},
        "affiliates": [
            {key_: value for key_, value in affiliate.items() if key_ != "participation"} for affiliate in affiliates
        ],
        "clicks": len(clicks),
        "events": events,
    }
