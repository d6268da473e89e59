"""Promises that need two affiliates, two participations or two currencies
(SPEC sections 3, 4 and 6): each test fails on the bug named in it."""

from decimal import Decimal

import pytest

import affnet_keitaro.plugin as keitaro
from affnet_keitaro.template import postback_url
from affnet.core.network import accounts
from affnet.core.earnings import ledger
from affnet.core.deliveries import setting_versions
from affnet.core.storage.models import Delivery, Event, LedgerEntry
from affnet.testing import Network, click, click_id_of, ingest, sale_body


@pytest.fixture
def affnet_plugins():
    return [keitaro]


def second_offer(network: Network, name: str, rules: list[str], currency="USD"):
    offer, key = accounts.create_offer(
        network.advertiser,
        name,
        f"https://{name.lower()}.example/",
        currency=currency,
        rules=[accounts.RuleSpec.parse(rule) for rule in rules],
    )
    participation = accounts.apply(network.affiliate, offer)
    accounts.set_participation_status(participation, "approved")
    return Network(network.advertiser, offer, key, network.affiliate, participation)


def save_postback(network: Network, url: str):
    setting_versions.save(
        keitaro.POSTBACK, network.affiliate, {"url": url}, participation=network.participation, delay_hours=0
    )


def test_partial_refunds_never_take_back_more_than_the_commission_under_rounding(affnet_client, affnet_network):
    """30% of 1.15 is 0.345, paid 0.35; each refund of 0.05 reverses 0.0152,
    booked 0.02: 22 of them would take back 0.44 without the cap."""
    clicked = click_id_of(click(affnet_client, affnet_network.ref))
    sale = ingest(affnet_client, affnet_network, "conversion", sale_body(clicked, amount="1.15")).get_json()
    assert sale["payout"] == "0.35"
    for n in range(22):
        refund = {"external_payment_id": "pi_123", "amount": "0.05", "refund_id": f"re_{n}"}
        assert ingest(affnet_client, affnet_network, "refund", refund).status_code in (200, 201)
    assert ledger.balances(affnet_network.affiliate.id)["USD"]["balance"] == Decimal("0.00")
    reversed_total = sum(entry.amount for entry in LedgerEntry.select() if entry.amount < 0)
    assert reversed_total == Decimal("-0.35")


def test_a_customer_stays_with_the_affiliate_of_their_first_attributed_event(affnet_client, affnet_network):
    """A's sale for cus_1, then a payment with B's click (B earns it: the
    click wins), then a rebill with only user_ref=cus_1: it pays A."""
    partner = affnet_network.add_affiliate("b@example.com")
    from_a = click_id_of(click(affnet_client, affnet_network.ref))
    from_b = click_id_of(click(affnet_client, partner.ref_code))
    ingest(affnet_client, affnet_network, "conversion", sale_body(from_a, payment="pi_a", user_ref="cus_1"))
    by_b = ingest(affnet_client, affnet_network, "conversion", sale_body(from_b, payment="pi_b", user_ref="cus_1"))
    assert Event.get(Event.txid == by_b.get_json()["txid"]).participation_id == partner.id
    rebill = {
        "event": "rebill",
        "user_ref": "cus_1",
        "external_payment_id": "pi_c",
        "gross_amount": 29,
        "currency": "USD",
        "is_first_payment": False,
    }
    answer = ingest(affnet_client, affnet_network, "conversion", rebill).get_json()
    event = Event.get(Event.txid == answer["txid"])
    assert (event.participation_id, event.affiliate_id) == (
        affnet_network.participation.id,
        affnet_network.affiliate.id,
    )
    assert answer["payout"] == "5.80"


def test_a_postback_saved_on_one_participation_is_not_used_for_another(affnet_client, affnet_network):
    other = second_offer(affnet_network, "Other", ["sale=30%"])
    save_postback(affnet_network, "https://tracker.example/pb?subid={clickid}")
    on_other = ingest(
        affnet_client, other, "conversion", sale_body(click_id_of(click(affnet_client, other.ref)), payment="pi_other")
    )
    assert on_other.status_code == 201
    assert Delivery.select().count() == 0, "the other participation has no postback"
    ingest(
        affnet_client,
        affnet_network,
        "conversion",
        sale_body(click_id_of(click(affnet_client, affnet_network.ref)), payment="pi_first"),
    )
    assert Delivery.select().count() == 1, "the participation it was saved on has"


def test_a_fixed_commission_is_paid_in_the_offers_currency_whatever_the_payments_currency(
    affnet_client, affnet_network
):
    fixed = second_offer(affnet_network, "Fixed", ["sale=5.00"])
    answer = ingest(
        affnet_client,
        fixed,
        "conversion",
        sale_body(click_id_of(click(affnet_client, fixed.ref)), amount=29, currency="EUR"),
    ).get_json()
    assert (answer["payout"], answer["currency"]) == ("5.00", "USD")
    assert set(ledger.balances(affnet_network.affiliate.id)) == {"USD"}


def test_the_currency_macro_is_the_payouts_currency(affnet_client, affnet_network):
    """A JPY payment to a USD offer with a percent rule pays in JPY: the
    postback says JPY, with the payout in yen."""
    save_postback(affnet_network, "https://tracker.example/pb?payout={payout}&currency={currency}")
    clicked = click_id_of(click(affnet_client, affnet_network.ref))
    answer = ingest(
        affnet_client, affnet_network, "conversion", sale_body(clicked, amount=2999, currency="JPY")
    ).get_json()
    assert (answer["payout"], answer["currency"]) == ("900", "JPY")
    delivery = Delivery.get()
    sent = postback_url(delivery.payload, setting_versions.decrypt_values(delivery.setting.values))
    assert sent == "https://tracker.example/pb?payout=900&currency=JPY"
