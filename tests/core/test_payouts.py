"""Payouts (SPEC section 8): a month of weekly runs paid to the cent, never twice, with the reasons for
who is left out; the states of a payout, cancelling, and references that complete hand-paid payouts."""

from datetime import datetime
from decimal import Decimal as D

import affnet_payout_usdt.plugin as usdt
import pytest
from peewee import IntegrityError

from affnet import hookimpl
from affnet.core.deliveries import setting_versions
from affnet.core.earnings import ledger, payouts
from affnet.core.network import accounts
from affnet.core.storage.models import LedgerEntry, Payout, SettingVersion
from affnet.plugins import PayoutMethod, PayoutResult, SettingField
from affnet.testing import click, click_id_of, ingest, sale_body

TRON = {"network": "TRC20", "address": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"}
HASH = "a" * 64


class Bank:
    """A payout method of this test: records each send and answers as ``answers`` says."""

    def __init__(self):
        self.sent, self.answers, self.polls = [], [], []

    def poll(self, request, config):
        return self.polls.pop(0) if self.polls else PayoutResult("sent")

    def send(self, request, config):
        self.sent.append(request)
        return (
            self.answers.pop(0) if self.answers else PayoutResult("completed", external_id=f"bank-{request.payout_id}")
        )

    @hookimpl
    def payout_methods(self):
        return [
            PayoutMethod(
                "bank",
                "Bank transfer",
                (SettingField("iban", "IBAN", required=True),),
                ("EUR", "USD"),
                send=self.send,
                poll=self.poll,
            )
        ]


@pytest.fixture
def bank():
    return Bank()


@pytest.fixture
def affnet_plugins(bank):
    return [("payout_usdt", usdt), bank]


@pytest.fixture
def methods(affnet_services):
    return payouts.Methods.from_plugins(affnet_services.pm)


class Month:
    """Traffic placed at chosen times: clicks, sales and reversals through the real paths."""

    def __init__(self, app, network, clock):
        self.app, self.network, self.clock = app, network, clock
        self.client = app.test_client()
        self.eur_offer, self.eur_key = accounts.create_offer(
            network.advertiser,
            "Calma",
            "https://calma.example/",
            currency="EUR",
            rules=[accounts.RuleSpec.parse("sale=10.00")],
        )

    def join(self, email: str, eur: bool = False):
        participation = self.network.add_affiliate(email)
        if eur:
            accounts.set_participation_status(accounts.apply(participation.affiliate, self.eur_offer), "approved")
        return participation.affiliate

    def sale(self, at: datetime, affiliate, payment: str, amount, eur: bool = False):
        self.clock.set(at)
        offer = self.eur_offer if eur else self.network.offer
        participation = affiliate.participations.where(accounts.Participation.offer == offer.id).get()
        clicked = click_id_of(click(self.app.test_client(), participation.ref_code))
        body = sale_body(
            clicked, payment=payment, amount=amount, user_ref=f"cus_{payment}", currency="EUR" if eur else "USD"
        )
        response = ingest(self.client, self.network, "conversion", body, key=self.eur_key if eur else None)
        assert response.status_code == 201, response.get_json()

    def reverse(self, at: datetime, call: str, payment: str):
        self.clock.set(at)
        response = ingest(self.client, self.network, call, {"external_payment_id": payment})
        assert response.status_code in (200, 201), response.get_json()


def _paid(made) -> dict:
    return {(p.affiliate.email, p.currency): p.amount for p in made}


def test_a_month_of_weekly_runs_pays_what_spec_section_8_says_to_the_cent(
    affnet_app, affnet_network, affnet_clock, affnet_settings, methods
):
    month = Month(affnet_app, affnet_network, affnet_clock)
    ana = affnet_network.affiliate  # USDT; Susurra pays 30% of a sale
    bea = month.join("bea@example.com", eur=True)  # bank; Calma pays 10.00 EUR a sale
    cai = month.join("cai@example.com")  # no payout method
    payouts.set_method(methods, ana, "usdt", TRON, delay_hours=24, now=datetime(2026, 5, 31))
    payouts.set_method(
        methods, bea, "bank", {"iban": "DE89370400440532013000"}, delay_hours=24, now=datetime(2026, 5, 31)
    )

    month.sale(datetime(2026, 6, 1, 9), ana, "pi_a1", "100.00")  # 30.00, payable June 8, 09:00
    month.sale(datetime(2026, 6, 2, 9), ana, "pi_a2", "200.00")  # 60.00, payable June 9
    for n in range(6):
        month.sale(datetime(2026, 6, 3, 9, n), bea, f"pi_b{n}", "49.00", eur=True)  # 6 × 10.00 EUR, June 10
    month.sale(datetime(2026, 6, 3, 10), bea, "pi_b_usd", "33.33")  # 9.999 → 10.00 USD: below the minimum for good
    month.sale(datetime(2026, 6, 4, 9), cai, "pi_c1", "300.00")  # 90.00, but no method

    affnet_clock.set(datetime(2026, 6, 8, 10))  # Monday
    run, made = payouts.run_payouts(affnet_settings, methods)
    assert made == [] and run.week == "2026-W24"
    reasons = {(s["affiliate"], s["currency"]): s["reason"] for s in run.skipped}
    assert reasons == {("aff@example.com", "USD"): "below the minimum of 50 USD"}

    month.sale(datetime(2026, 6, 9, 9), ana, "pi_a3", "100.00")  # 30.00, payable June 16
    affnet_clock.set(datetime(2026, 6, 15, 10))
    run, made = payouts.run_payouts(affnet_settings, methods)
    assert _paid(made) == {("aff@example.com", "USD"): D("90.00"), ("bea@example.com", "EUR"): D("60.00")}
    reasons = {(s["affiliate"], s["currency"]): s["reason"] for s in run.skipped}
    assert reasons == {
        ("bea@example.com", "USD"): "below the minimum of 50 USD",
        ("cai@example.com", "USD"): "no payout method set",
    }
    assert all(p.status == "awaiting_approval" for p in made), "review mode by default"
    affnet_clock.set(datetime(2026, 6, 15, 18))
    assert payouts.run_payouts(affnet_settings, methods)[1] == [], "a second run in the same week makes nothing"

    month.reverse(datetime(2026, 6, 17, 9), "refund", "pi_a2")  # -60.00 at once, after it was paid
    month.reverse(datetime(2026, 6, 18, 9), "chargeback", "pi_a1")  # -30.00
    month.sale(datetime(2026, 6, 20, 9), ana, "pi_a4", "400.00")  # 120.00, payable June 27
    affnet_clock.set(datetime(2026, 6, 22, 10))
    run, made = payouts.run_payouts(affnet_settings, methods)
    assert _paid(made) == {}, "30.00 - 60.00 - 30.00 is -60.00: nothing to pay"
    assert ledger.balances(ana.id)["USD"]["payable"] == D("-60.00")

    affnet_clock.set(datetime(2026, 6, 29, 10))
    run, made = payouts.run_payouts(affnet_settings, methods)
    assert _paid(made) == {("aff@example.com", "USD"): D("60.00")}, "later earnings settle the negative balance first"
    assert ledger.balances(ana.id)["USD"]["payable"] == D("0")
    total_paid = -sum(e.amount for e in LedgerEntry.select().where(LedgerEntry.kind == "payout"))
    assert total_paid == D("210.00"), "90 + 60 EUR + 60: each payout booked once"


def test_a_payout_is_booked_in_the_ledger_in_the_same_transaction_once(
    affnet_app, affnet_network, affnet_clock, affnet_settings, methods
):
    month = Month(affnet_app, affnet_network, affnet_clock)
    payouts.set_method(methods, affnet_network.affiliate, "usdt", TRON, delay_hours=24, now=datetime(2026, 5, 31))
    month.sale(datetime(2026, 6, 1, 9), affnet_network.affiliate, "pi_1", "200.00")
    affnet_clock.set(datetime(2026, 6, 8, 10))
    _, [payout] = payouts.run_payouts(affnet_settings, methods)
    entries = list(LedgerEntry.select().where(LedgerEntry.payout == payout.id))
    assert [(e.kind, e.amount) for e in entries] == [("payout", D("-60.00"))]
    assert payout.idempotency_key == f"affnet-payout-{payouts.network_key()}-{payout.id}"
    assert len(payouts.network_key()) == 8, "one random part per database, the same for every payout"
    with pytest.raises(IntegrityError):
        LedgerEntry.create(affiliate=payout.affiliate_id, currency="USD", amount=-payout.amount, kind="payout",
                           payout=payout.id, available_at=affnet_clock.now)  # fmt: skip


@pytest.fixture
def one_payout(affnet_app, affnet_network, affnet_clock, affnet_settings, methods):
    """A 60.00 USD payout by the bank method, awaiting approval."""
    month = Month(affnet_app, affnet_network, affnet_clock)
    payouts.set_method(
        methods, affnet_network.affiliate, "bank", {"iban": "DE89370400440532013000"}, 24, datetime(2026, 5, 31)
    )
    month.sale(datetime(2026, 6, 1, 9), affnet_network.affiliate, "pi_1", "200.00")
    affnet_clock.set(datetime(2026, 6, 8, 10))
    return payouts.run_payouts(affnet_settings, methods)[1][0]


def test_an_approved_payout_is_sent_with_its_idempotency_key(affnet_services, methods, one_payout, bank):
    assert payouts.send_approved(affnet_services, methods) == {}, "nothing is sent before approval"
    assert payouts.approve([one_payout.id]) == 1
    assert payouts.send_approved(affnet_services, methods) == {"completed": 1}
    assert [(r.idempotency_key, r.amount, r.details) for r in bank.sent] == [
        (Payout.get_by_id(one_payout.id).idempotency_key, D("60.00"), {"iban": "DE89370400440532013000"})
    ]
    done = Payout.get_by_id(one_payout.id)
    assert (done.status, done.external_id, done.completed_at is not None) == ("completed", f"bank-{done.id}", True)
    assert payouts.send_approved(affnet_services, methods) == {}, "a completed payout is never sent again"
    assert ledger.balances(done.affiliate_id)["USD"]["paid"] == D("60.00")


def test_a_retry_answer_keeps_the_key_and_a_failure_keeps_the_providers_reason(
    affnet_services, methods, one_payout, bank
):
    payouts.approve([one_payout.id])
    bank.answers = [PayoutResult("retry", error="timeout"), PayoutResult("failed", error="account closed")]
    payouts.send_approved(affnet_services, methods)
    assert Payout.get_by_id(one_payout.id).status == "approved"
    payouts.send_approved(affnet_services, methods)
    failed = Payout.get_by_id(one_payout.id)
    assert (failed.status, failed.error) == ("failed", "account closed")
    assert {r.idempotency_key for r in bank.sent} == {Payout.get_by_id(one_payout.id).idempotency_key}


def test_a_sender_that_died_leaves_a_claim_that_runs_out_and_the_same_key_is_asked_again(
    affnet_services, methods, one_payout, bank, affnet_clock
):
    payouts.approve([one_payout.id])
    assert payouts._claim(one_payout.id, affnet_clock.now, 300)  # the dead sender's claim
    assert payouts.send_approved(affnet_services, methods) == {}, "a live claim is left alone"
    affnet_clock.advance(seconds=301)
    assert payouts.send_approved(affnet_services, methods) == {"completed": 1}
    assert [r.idempotency_key for r in bank.sent] == [Payout.get_by_id(one_payout.id).idempotency_key]


def test_cancelling_gives_the_amount_back_once(affnet_services, methods, one_payout):
    affiliate = one_payout.affiliate_id
    assert ledger.balances(affiliate)["USD"]["payable"] == D("0")
    payouts.cancel(one_payout)
    assert ledger.balances(affiliate)["USD"]["payable"] == D("60.00")
    with pytest.raises(payouts.PayoutError, match="is cancelled"):
        payouts.cancel(one_payout)
    assert ledger.balances(affiliate)["USD"]["payable"] == D("60.00")


def test_a_sent_payout_cannot_be_cancelled(affnet_services, methods, one_payout, bank):
    bank.answers = [PayoutResult("sent", external_id="b-1")]
    payouts.approve([one_payout.id])
    payouts.send_approved(affnet_services, methods)
    with pytest.raises(payouts.PayoutError, match="is sent"):
        payouts.cancel(Payout.get_by_id(one_payout.id))


@pytest.fixture
def usdt_payouts(affnet_app, affnet_network, affnet_clock, affnet_settings, affnet_services, methods):
    """Two USDT payouts, approved and sent (in a transfer file)."""
    month = Month(affnet_app, affnet_network, affnet_clock)
    other = month.join("bea@example.com")
    for who, payment in ((affnet_network.affiliate, "pi_1"), (other, "pi_2")):
        payouts.set_method(methods, who, "usdt", TRON, 24, datetime(2026, 5, 31))
        month.sale(datetime(2026, 6, 1, 9), who, payment, "200.00")
    affnet_clock.set(datetime(2026, 6, 8, 10))
    _, made = payouts.run_payouts(affnet_settings, methods, mode="auto")
    assert payouts.send_approved(affnet_services, methods) == {"sent": 2}
    return made


def test_a_recorded_hash_completes_a_usdt_payout_and_cannot_complete_two(methods, usdt_payouts):
    first, second = usdt_payouts
    assert payouts.record_reference(methods, first, HASH).status == "completed"
    with pytest.raises(payouts.PayoutError, match=f"already completed payout {first.id}"):
        payouts.record_reference(methods, Payout.get_by_id(second.id), HASH)
    with pytest.raises(payouts.PayoutError, match="64"):
        payouts.record_reference(methods, Payout.get_by_id(second.id), "0x" + "b" * 64)
    assert Payout.get_by_id(second.id).status == "sent"


def test_a_transfer_file_holds_each_payout_once(affnet_services, methods, usdt_payouts):
    name, content = payouts.transfer_file(affnet_services, methods, "usdt")
    assert content.decode().count("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t") == 2
    with pytest.raises(payouts.PayoutError, match="--again"):
        payouts.transfer_file(affnet_services, methods, "usdt")
    assert payouts.transfer_file(affnet_services, methods, "usdt", again=True)[1] == content


def test_hashes_are_imported_from_the_filled_in_transfer_file(affnet_services, methods, usdt_payouts):
    first, second = usdt_payouts
    text = f"payout_id,tx_hash\r\n{first.id},{HASH}\r\n{second.id},\r\n999,{'c' * 64}\r\n"
    completed, refused = payouts.import_references(methods, text)
    assert [p.id for p in completed] == [first.id]
    assert refused == ["line 4: no payout '999'"], "a line without a hash waits; an unknown payout is refused"


def test_an_affiliate_with_invalid_details_is_skipped_with_a_reason(
    affnet_app, affnet_network, affnet_clock, affnet_settings, methods
):
    month = Month(affnet_app, affnet_network, affnet_clock)
    month.sale(datetime(2026, 6, 1, 9), affnet_network.affiliate, "pi_1", "200.00")
    bad = {"method": "usdt", "network": "TRC20", "address": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6T"}
    SettingVersion.create(
        kind="payout", affiliate=affnet_network.affiliate, values=bad, effective_at=datetime(2026, 5, 1)
    )
    setting_versions._versions.forget(affnet_network.affiliate.id)
    affnet_clock.set(datetime(2026, 6, 8, 10))
    run, made = payouts.run_payouts(affnet_settings, methods)
    assert made == [] and run.skipped[0]["reason"].startswith("invalid payout details: address")


def test_a_changed_payout_method_waits_24_hours(affnet_app, affnet_network, methods):
    first, _ = payouts.set_method(methods, affnet_network.affiliate, "usdt", TRON, 24, datetime(2026, 6, 1))
    assert first.effective_at == datetime(2026, 6, 1), "the first one at once"
    changed, _ = payouts.set_method(
        methods, affnet_network.affiliate, "bank", {"iban": "DE89370400440532013000"}, 24, datetime(2026, 6, 2)
    )
    assert changed.effective_at == datetime(2026, 6, 3)
    assert payouts.method_in_force(affnet_network.affiliate.id, datetime(2026, 6, 2, 12))[0] == "usdt"
    assert payouts.method_in_force(affnet_network.affiliate.id, datetime(2026, 6, 3))[0] == "bank"


def test_bad_payout_details_are_refused_and_nothing_is_saved(affnet_app, affnet_network, methods):
    with pytest.raises(setting_versions.SettingsError) as refused:
        payouts.set_method(methods, affnet_network.affiliate, "usdt", {"network": "TRC20", "address": "T123"}, 24)
    assert "address" in refused.value.fields
    assert SettingVersion.select().where(SettingVersion.kind == "payout").count() == 0


@pytest.mark.parametrize("affnet_config", [{"payouts.minimums": "JPY=7000"}])
def test_the_minimum_is_per_currency_and_may_be_raised_for_one_affiliate(affnet_app, affnet_network, affnet_settings):
    assert payouts.minimum_for(affnet_settings, affnet_network.affiliate.id, "USD") == D("50")
    assert payouts.minimum_for(affnet_settings, affnet_network.affiliate.id, "JPY") == D("7000")
    payouts.raise_minimum(affnet_settings, affnet_network.affiliate, "USD", D("200"))
    assert payouts.minimum_for(affnet_settings, affnet_network.affiliate.id, "USD") == D("200")
    with pytest.raises(payouts.PayoutError, match="only be raised"):
        payouts.raise_minimum(affnet_settings, affnet_network.affiliate, "USD", D("20"))


def test_the_books_csv_has_a_line_per_payout(one_payout):
    text = payouts.export_csv([Payout.get_by_id(one_payout.id)])
    assert text.splitlines() == [
        "payout_id,affiliate,method,destination,amount,currency,status,reference",
        f"{one_payout.id},aff@example.com,bank,DE89370400440532013000,60.0000,USD,awaiting_approval,",
    ]


def test_the_worker_runs_the_week_on_its_day_and_hour(affnet_worker):
    weekly = [job for job in affnet_worker.scheduler.jobs if job.job_func.args[0] == affnet_worker.payout_run]
    assert [(job.start_day, str(job.at_time)) for job in weekly] == [("monday", "10:00:00")]
    sending = [job for job in affnet_worker.scheduler.jobs if job.job_func.args[0] == affnet_worker.send_payouts]
    assert [(job.interval, job.unit) for job in sending] == [(1, "minutes")]


def test_a_sent_payout_is_polled_to_completed_or_failed_and_never_sent_again(
    affnet_services, methods, one_payout, bank
):
    bank.answers = [PayoutResult("sent", external_id="b-1")]
    payouts.approve([one_payout.id])
    payouts.send_approved(affnet_services, methods)
    bank.polls = [
        PayoutResult("retry", error="HTTP 503"),
        PayoutResult("sent", note="on its way"),
        PayoutResult("completed"),
    ]
    for expected in (("sent", "HTTP 503", ""), ("sent", "", "on its way"), ("completed", "", "")):
        payouts.poll_sent(affnet_services, methods)
        payout = Payout.get_by_id(one_payout.id)
        assert (payout.status, payout.error, payout.note) == expected
    assert len(bank.sent) == 1, "a poll with no answer never sends the payout again"
