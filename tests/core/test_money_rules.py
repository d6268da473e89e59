"""Commissions, attribution and the ledger as plain functions over models,
without HTTP (SPEC sections 3 and 4)."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from affnet.core.network import accounts
from affnet.core.events import attribution
from affnet.core.earnings import commissions, ledger
from affnet.core.storage.models import Click, Event, LedgerEntry
from affnet.core.clicks.tracking import find_route, record_click

D = Decimal
T0 = datetime(2026, 6, 1, 12, 0)


@pytest.fixture
def offer(affnet_network):
    commissions.rules.forget(affnet_network.offer.id)
    return affnet_network.offer


def event(network, **values) -> Event:
    """A stored event of the network's participation (attributed unless told)."""
    fields = dict(
        txid=values.pop("txid", f"tx{Event.select().count()}"),
        offer=network.offer,
        kind="sale",
        status="sale",
        dedup_key=f"k{Event.select().count()}",
        participation=network.participation,
        affiliate=network.affiliate.id,
        attributed=True,
        payout=D("0"),
        payout_currency="USD",
        source="test",
        occurred_at=T0,
        is_first_payment=True,
    )
    fields.update(values)
    return Event.create(**fields)


# -- commissions -----------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, gross, currency, expected",
    [
        ("sale", D("29.00"), "USD", (D("8.70"), "USD")),  # 30%
        ("sale", D("1.15"), "USD", (D("0.35"), "USD")),  # 0.345 rounds half up
        ("sale", D("2999"), "JPY", (D("900"), "JPY")),  # a percent pays in the payment's currency
        ("sale", D("10.5555"), "CLF", (D("3.1667"), "CLF")),  # four minor digits
        ("trial", None, None, (D("2.00"), "USD")),  # fixed: the offer's currency
        ("trial", D("50"), "EUR", (D("2.00"), "USD")),
        ("refund", D("29"), "USD", (D("0"), "USD")),  # no rule: nothing
    ],
)
def test_commission_for_prices_each_rule(offer, kind, gross, currency, expected):
    assert commissions.commission_for(offer, kind, gross, currency, "cus_1", T0) == expected


def test_a_rebill_rule_with_months_pays_only_within_them(affnet_network, offer):
    rule = commissions.rules_of(offer.id)["rebill"]
    rule.rebill_months = 3
    rule.save()
    commissions.rules.forget(offer.id)
    event(affnet_network, user_ref="cus_1", occurred_at=datetime(2026, 1, 31))
    just_inside = datetime(2026, 4, 29, 23, 59)
    assert commissions.commission_for(offer, "rebill", D("10"), "USD", "cus_1", just_inside)[0] == D("2.00")
    assert commissions.commission_for(offer, "rebill", D("10"), "USD", "cus_1", datetime(2026, 4, 30)) == (
        D("0"),
        "USD",
    ), "three months after January 31 end on April 30 (the month's last day)"


@pytest.mark.parametrize(
    "moment, months, expected",
    [
        (datetime(2026, 1, 31), 1, datetime(2026, 2, 28)),
        (datetime(2028, 1, 31), 1, datetime(2028, 2, 29)),
        (datetime(2026, 11, 15), 3, datetime(2027, 2, 15)),
    ],
)
def test_add_months_keeps_the_day_or_takes_the_months_last(moment, months, expected):
    assert commissions.add_months(moment, months) == expected


def reversal(payout, gross, amount, reversed_="0", refunded="0"):
    original = Event(payout=D(payout), gross_amount=D(gross) if gross else None, payout_currency="USD")
    return commissions.reversal_share(original, D(amount) if amount else None, D(reversed_), D(refunded))


def test_reversal_share_is_the_refunds_share_rounded():
    assert reversal("8.70", "29.00", "10.00") == D("3.00")


def test_reversal_share_never_passes_what_is_left():
    assert reversal("0.35", "1.15", "0.05", reversed_="0.34", refunded="0.85") == D("0.01")
    assert reversal("0.35", "1.15", "0.05", reversed_="0.35", refunded="0.90") == D("0")


def test_reversal_share_takes_all_that_is_left_without_an_amount_or_at_the_whole_gross():
    assert reversal("8.70", "29.00", None, reversed_="3.00") == D("5.70")
    assert reversal("8.70", "29.00", "19.00", reversed_="3.00", refunded="10.00") == D("5.70")


# -- attribution -------------------------------------------------------------------


def a_click(network, at=T0, participation=None) -> Click:
    route = find_route((participation or network.participation).ref_code, cached=False)
    row = record_click(
        route, {}, ip="203.0.113.7", user_agent="Mozilla/5.0", referer=None, method="GET", has_cookie=False, now=at
    )
    return Click.get(Click.click_id == row["click_id"])


def test_attribute_by_a_click_within_its_cookie_window(affnet_network, offer):
    clicked = a_click(affnet_network)
    found = attribution.attribute(offer, clicked.click_id, None, T0 + timedelta(days=offer.cookie_days))
    assert found.attributed and found.click.click_id == clicked.click_id
    late = attribution.attribute(offer, clicked.click_id, None, T0 + timedelta(days=offer.cookie_days, seconds=1))
    assert late == attribution.NOBODY


def test_attribute_by_user_ref_to_the_first_attributed_event(affnet_network, offer):
    partner = affnet_network.add_affiliate("b@example.com")
    first, later = a_click(affnet_network), a_click(affnet_network, participation=partner)
    event(affnet_network, user_ref="cus_1", click=first, occurred_at=T0)
    event(
        affnet_network,
        user_ref="cus_1",
        click=later,
        participation=partner,
        affiliate=partner.affiliate_id,
        occurred_at=T0 + timedelta(days=1),
    )
    found = attribution.attribute(offer, None, "cus_1", T0 + timedelta(days=2))
    assert found.participation.id == affnet_network.participation.id


def test_attribute_asks_the_spool_once_for_an_unknown_click_and_looks_again(affnet_network, offer):
    asked = []
    assert attribution.attribute(offer, "x" * 22, None, T0, load_clicks=asked.append) == attribution.NOBODY
    assert asked == ["x" * 22]


def test_a_click_of_another_offer_does_not_attribute(affnet_network, offer):
    other, _ = accounts.create_offer(affnet_network.advertiser, "Other", "https://other.example/")
    clicked = a_click(affnet_network)
    assert attribution.attribute(other, clicked.click_id, None, T0) == attribution.NOBODY


# -- the ledger --------------------------------------------------------------------


def test_a_commission_is_payable_when_its_hold_ends(affnet_network, offer):
    sale = event(affnet_network, payout=D("8.70"))
    entry = ledger.entry_for(sale, offer)
    entry.save()
    hold_ends = T0 + timedelta(days=offer.hold_days)
    before = ledger.balances(affnet_network.affiliate.id, at=hold_ends - timedelta(seconds=1))["USD"]
    assert (before["balance"], before["payable"], before["pending"]) == (D("8.70"), D("0"), D("8.70"))
    assert ledger.balances(affnet_network.affiliate.id, at=hold_ends)["USD"]["payable"] == D("8.70")


def test_an_unattributed_or_unpaid_event_books_nothing(affnet_network, offer):
    assert ledger.entry_for(event(affnet_network, attributed=False, payout=D("1")), offer) is None
    assert ledger.entry_for(event(affnet_network, payout=D("0")), offer) is None


def test_a_reversal_counts_at_once_and_balances_are_per_currency(affnet_network, offer):
    ledger.entry_for(event(affnet_network, payout=D("8.70")), offer).save()
    ledger.entry_for(event(affnet_network, payout=D("900"), payout_currency="JPY"), offer).save()
    reversal = ledger.entry_for(event(affnet_network, kind="refund", status="rejected", payout=D("-3.00")), offer)
    reversal.save()
    assert (reversal.kind, reversal.available_at) == ("reversal", T0), "not held: it counts at once"
    assert LedgerEntry.select().count() == 3
    balances = ledger.balances(affnet_network.affiliate.id, at=T0)
    assert {currency: (b["balance"], b["payable"], b["pending"]) for currency, b in balances.items()} == {
        "USD": (D("5.70"), D("-3.00"), D("8.70")),
        "JPY": (D("900"), D("0"), D("900")),
    }
