"""The ingest API's test conversions (``"test": true``) and the offer key's "last used" time."""

from datetime import timedelta

from affnet.core.network import accounts
from affnet.core.storage.models import Event, LedgerEntry, Offer
from affnet.testing import click, click_id_of, ingest, sale_body


def test_a_conversion_sent_with_test_true_is_recorded_as_a_test_and_says_so(affnet_client, affnet_network):
    click_id = click_id_of(click(affnet_client, affnet_network.ref))
    response = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, test=True))
    assert response.status_code == 201
    body = response.get_json()
    assert (body["test"], body["attributed"], body["payout"], body["duplicate"]) == (True, True, "8.70", False)
    assert Event.get(Event.txid == body["txid"]).is_test
    assert LedgerEntry.select().count() == 0


def test_a_test_flag_that_is_not_true_or_false_is_refused_and_writes_nothing(affnet_client, affnet_network):
    response = ingest(affnet_client, affnet_network, "conversion", sale_body(test="yes"))
    assert response.status_code == 422 and response.get_json()["fields"] == {"test": "must be true or false"}
    assert Event.select().count() == 0


def test_test_false_is_a_real_conversion(affnet_client, affnet_network):
    click_id = click_id_of(click(affnet_client, affnet_network.ref))
    body = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, test=False)).get_json()
    assert "test" not in body and not Event.get().is_test and LedgerEntry.select().count() == 1


def test_a_test_and_a_real_payment_with_the_same_id_are_two_events(affnet_client, affnet_network):
    click_id = click_id_of(click(affnet_client, affnet_network.ref))
    test = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, payment="pi_9", test=True))
    real = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, payment="pi_9"))
    repeat = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, payment="pi_9", test=True))
    assert (test.status_code, real.status_code, real.get_json()["duplicate"]) == (201, 201, False)
    assert repeat.status_code == 200 and repeat.get_json()["duplicate"] is True
    assert repeat.get_json()["txid"] == test.get_json()["txid"] and repeat.get_json()["test"] is True
    assert LedgerEntry.select().count() == 1, "only the real payment is booked"


def test_a_test_conversion_is_not_in_the_stats_api(affnet_client, affnet_network):
    from affnet.core.network import api_tokens

    _, token = api_tokens.create_token(affnet_network.affiliate, "tracker")
    click_id = click_id_of(click(affnet_client, affnet_network.ref))
    ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, payment="pi_t", test=True))
    real = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, payment="pi_r")).get_json()
    rows = affnet_client.get(f"/api/affiliate/stats-api?token={token}&format=json").get_json()
    assert [row["txid"] for row in rows] == [real["txid"]]


def _last_used(network):
    return Offer.get_by_id(network.offer.id).key_last_used_at


def test_an_ingest_call_sets_the_keys_last_use_at_most_once_a_minute(affnet_client, affnet_network, affnet_clock):
    assert _last_used(affnet_network) is None
    first = affnet_clock.now
    ingest(affnet_client, affnet_network, "conversion", sale_body(payment="pi_1"))
    assert _last_used(affnet_network) == first
    affnet_clock.advance(seconds=59)
    ingest(affnet_client, affnet_network, "conversion", sale_body(payment="pi_2"))
    assert _last_used(affnet_network) == first, "not written again within the minute"
    later = affnet_clock.advance(seconds=2)
    ingest(affnet_client, affnet_network, "refund", {"external_payment_id": "pi_1"})
    assert _last_used(affnet_network) == later


def test_a_refused_body_still_counts_as_a_use_of_the_key_but_a_wrong_key_does_not(affnet_client, affnet_network):
    ingest(affnet_client, affnet_network, "conversion", {"event": "sale"}, key="ok_wrong")
    assert _last_used(affnet_network) is None
    assert ingest(affnet_client, affnet_network, "conversion", {"event": "sale"}).status_code == 422
    assert _last_used(affnet_network) is not None


def test_a_new_key_shows_its_own_first_use_at_once(affnet_client, affnet_network, affnet_clock):
    ingest(affnet_client, affnet_network, "conversion", sale_body(payment="pi_1"))
    affnet_network.offer_key = accounts.rotate_offer_key(affnet_network.offer)
    assert _last_used(affnet_network) is None
    used = affnet_clock.advance(seconds=5)
    ingest(affnet_client, affnet_network, "conversion", sale_body(payment="pi_2"))
    assert _last_used(affnet_network) == used


def test_a_failing_last_use_write_never_fails_the_ingest_answer(affnet_client, affnet_network, monkeypatch):
    def broken(offer, now):
        raise RuntimeError("the write failed")

    monkeypatch.setattr(accounts, "note_key_used", broken)
    click_id = click_id_of(click(affnet_client, affnet_network.ref))
    response = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id))
    assert response.status_code == 201 and response.get_json()["payout"] == "8.70"


def test_the_offer_key_is_looked_up_not_written_on_every_call(affnet_client, affnet_network, affnet_clock, monkeypatch):
    writes = []
    real = Offer.update

    def counted(*args, **kwargs):
        writes.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(Offer, "update", counted)
    for n in range(5):
        affnet_clock.advance(seconds=1)
        ingest(affnet_client, affnet_network, "conversion", sale_body(payment=f"pi_{n}"))
    assert writes == [{"key_last_used_at": writes[0]["key_last_used_at"]}]
    assert timedelta(0) < affnet_clock.now - writes[0]["key_last_used_at"] < timedelta(minutes=1)
