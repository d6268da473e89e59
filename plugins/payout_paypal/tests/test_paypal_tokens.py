"""Access tokens: one per app while it is valid, renewed before it expires,
and renewed once (with one more try of the call) when PayPal refuses it."""

from affnet_payout_paypal import payouts, tokens
from fake_paypal import FakePayPal


def test_a_token_is_reused_while_valid(fake, payout_request):
    results = [payouts.send(payout_request(payout_id=n), fake.config()) for n in (1, 2, 3)]
    polled = payouts.poll(payout_request(payout_id=1, external_id=results[0].external_id), fake.config())

    assert [result.outcome for result in results] == ["sent"] * 3 and polled.outcome == "sent"
    assert fake.token_calls == 1 and len(fake.issued_tokens) == 1


def test_an_expired_token_is_renewed_once_and_the_call_succeeds(fake, payout_request):
    payouts.send(payout_request(payout_id=1), fake.config())
    fake.expire_tokens()  # revoked, or PayPal lost it, well before its expires_in

    result = payouts.send(payout_request(payout_id=2), fake.config())

    assert result.outcome == "sent" and result.external_id == fake.batches[1].id
    assert fake.token_calls == 2
    assert [call.headers["paypal-request-id"] for call in fake.calls("POST")] == ["affnet-payout-1"] + [
        "affnet-payout-2"
    ] * 2
    assert len(fake.batches) == 2


def test_a_token_refused_again_is_not_renewed_twice(payout_request):
    with FakePayPal(token_lifetime=0) as fake:  # every token it issues is refused at once
        result = payouts.send(payout_request(), fake.config())

        assert result.outcome == "failed" and "HTTP 401" in result.error
        assert fake.token_calls == 2 and len(fake.calls("POST")) == 2 and fake.batches == []


def test_a_token_is_renewed_shortly_before_it_expires(payout_request, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(tokens, "monotonic", lambda: clock[0])
    with FakePayPal(token_lifetime=100) as fake:
        payouts.send(payout_request(payout_id=1), fake.config())
        clock[0] += 85  # 15 s left: still used
        payouts.send(payout_request(payout_id=2), fake.config())
        calls_while_valid = fake.token_calls
        clock[0] += 6  # 9 s left, under a tenth of its life: a new one before PayPal refuses it
        payouts.send(payout_request(payout_id=3), fake.config())

        assert calls_while_valid == 1 and fake.token_calls == 2
        assert len(fake.calls("POST")) == 3  # no call was refused and made again


def test_each_app_has_its_own_token(fake, payout_request):
    fake.clients["AOtherApp"] = "EOtherAppSecret0123456789"
    payouts.send(payout_request(payout_id=1), fake.config())
    payouts.send(
        payout_request(payout_id=2), fake.config(client_id="AOtherApp", client_secret="EOtherAppSecret0123456789")
    )
    payouts.send(payout_request(payout_id=3), fake.config())

    assert fake.token_calls == 2


def test_a_changed_secret_is_checked_at_once(fake, payout_request):
    payouts.send(payout_request(payout_id=1), fake.config())

    result = payouts.send(payout_request(payout_id=2), fake.config(client_secret="EChangedToAWrongSecret0123"))

    assert result.outcome == "failed" and "invalid_client" in result.error and len(fake.batches) == 1
