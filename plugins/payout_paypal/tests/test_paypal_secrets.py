"""The operator's client secret and PayPal's access tokens never appear in
a result the core stores and shows, nor in a log line."""

import base64
import logging

from affnet_payout_paypal import payouts, tokens
from fake_paypal import DropAnswer


def test_the_secret_and_the_tokens_never_appear_in_a_result_or_a_log(fake, payout_request, caplog):
    caplog.set_level(logging.DEBUG)
    config = fake.config()
    results = [payouts.send(payout_request(payout_id=1), config)]
    results.append(payouts.send(payout_request(payout_id=1), config))  # repeated
    fake.forget_request_ids()
    results.append(payouts.send(payout_request(payout_id=1), config))  # found by its sender_batch_id
    fake.expire_tokens()
    results.append(payouts.send(payout_request(payout_id=2), config))  # a token renewed
    polled = payout_request(payout_id=1, external_id=results[0].external_id)
    for status in ("UNCLAIMED", "RETURNED", "SUCCESS"):
        fake.set_item_status(results[0].external_id, status)
        results.append(payouts.poll(polled, config))
    fake.refuse(422, "INSUFFICIENT_FUNDS")
    results.append(payouts.send(payout_request(payout_id=3), config))
    fake.refusal = None
    fake.on_create_payout = lambda batch: (_ for _ in ()).throw(DropAnswer)
    results.append(payouts.send(payout_request(payout_id=4), config))
    fake.on_create_payout = None
    fake.outage = 500
    results.append(payouts.send(payout_request(payout_id=5), config))
    results.append(payouts.poll(polled, config))
    fake.outage = None
    wrong_secret = "EWrongSecretOfTheRightShape123"
    results.append(payouts.send(payout_request(payout_id=6), fake.config(client_secret=wrong_secret)))

    assert {result.outcome for result in results} == {"sent", "completed", "failed", "retry"}
    assert fake.token_calls >= 3 and "PayPal access token for client id" in caplog.text
    said = " ".join(repr(result) for result in results) + caplog.text
    basic = base64.b64encode(f"{fake.client_id}:{fake.client_secret}".encode()).decode()
    for secret in (fake.client_secret, wrong_secret, basic, *fake.issued_tokens):
        assert secret not in said
    assert fake.client_id not in caplog.text  # named by its last four characters only


def test_the_app_shows_no_secret_in_its_repr(fake):
    app = payouts.app_of(fake.config())

    assert fake.client_secret not in repr(app) and isinstance(app, tokens.App)
