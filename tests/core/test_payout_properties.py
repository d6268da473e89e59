"""Random histories of money against a small model written here, apart from affnet's code: sales,
rebills, duplicates, partial refunds, chargebacks, refunds before their payment, weekly payout runs,
sends and cancellations in between, in USD (fixed commissions), EUR (a percentage) and JPY (a
percentage, no decimals). After every step each balance equals the model's to the cent, and no payout
is ever sent twice."""

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from affnet import hookimpl
from affnet.core import clock
from affnet.core.earnings import ledger, payouts
from affnet.core.events.ingest import parse_call
from affnet.core.network import accounts
from affnet.core.storage.db import db
from affnet.core.storage.models import Payout
from affnet.plugins import PayoutMethod, PayoutResult, SettingField
from affnet.testing import click, click_id_of

T0 = datetime(2026, 6, 1, 8, 0)  # a Monday
HOLD = timedelta(days=7)
EXAMPLES = int(os.environ.get("AFFNET_PROPERTY_EXAMPLES", "1000"))
# (currency, commission rule, gross amounts a sale may have, minor units)
OFFERS = {
    "USD": ("sale=10.00", ["9.99", "19.00", "49.50"], 2),
    "EUR": ("sale=30%", ["9.99", "10.01", "33.33", "120.00"], 2),
    "JPY": ("sale=12%", ["980", "1499", "12000"], 0),
}
REBILL_USD = D("4.00")
MINIMUM = {"USD": D("50"), "EUR": D("50"), "JPY": D("5000")}


class Bank:
    """Pays at once and remembers every key it was asked with."""

    def __init__(self):
        self.keys: list[str] = []

    def send(self, request, config):
        self.keys.append(request.idempotency_key)
        return PayoutResult("completed", external_id=request.idempotency_key)

    @hookimpl
    def payout_methods(self):
        return [PayoutMethod("bank", "Bank", (SettingField("iban", "IBAN", required=True),), (), send=self.send)]


# ---- the model ---------------------------------------------------------------------------------------------------


def _round(amount: D, places: int) -> D:
    return amount.quantize(D(1).scaleb(-places), rounding=ROUND_HALF_UP)


@dataclass
class Payment:
    affiliate: int
    currency: str
    gross: D
    commission: D
    reversed: D = D(0)
    refunded: D = D(0)


@dataclass
class Model:
    entries: dict = field(default_factory=dict)  # (affiliate, currency) → [(amount, available_at)]
    payments: dict = field(default_factory=dict)  # (currency, payment id) → Payment
    waiting: dict = field(default_factory=dict)  # (currency, payment id) → [(call, amount)] before their payment
    reversals: set = field(default_factory=set)  # (currency, call, payment id, refund id): a repeat is a duplicate
    weeks: set = field(default_factory=set)
    open_payouts: dict = field(default_factory=dict)  # payout id → (affiliate, currency, amount)

    def book(self, affiliate, currency, amount, available_at):
        self.entries.setdefault((affiliate, currency), []).append((amount, available_at))

    def payable(self, affiliate, currency, at) -> D:
        return sum((a for a, when in self.entries.get((affiliate, currency), []) if when <= at), D(0))

    def sale(self, key, affiliate, gross, at, commission):
        self.payments[key] = Payment(affiliate, key[0], gross, commission)
        self.book(affiliate, key[0], commission, at + HOLD)
        for call, amount in self.waiting.pop(key, []):
            self._apply(key, call, amount, at)

    def reverse(self, key, call, amount, refund_id, at):
        if (*key, call, refund_id) in self.reversals:
            return  # the same call again
        self.reversals.add((*key, call, refund_id))
        if key not in self.payments:
            self.waiting.setdefault(key, []).append((call, amount))
            return
        self._apply(key, call, amount, at)

    def _apply(self, key, call, amount, at):
        payment = self.payments[key]
        left = payment.commission - payment.reversed
        if call == "chargeback" or amount is None or payment.refunded + amount >= payment.gross:
            share = left
        else:
            share = _round(payment.commission * amount / payment.gross, OFFERS[payment.currency][2])
        share = max(D(0), min(share, left))
        payment.reversed += share
        if call == "refund" and amount is not None:
            payment.refunded += amount
        if share:
            self.book(payment.affiliate, payment.currency, -share, at)


# ---- the history -------------------------------------------------------------------------------------------------

steps = st.lists(
    st.one_of(
        st.tuples(st.just("sale"), st.integers(0, 2), st.sampled_from(list(OFFERS)), st.integers(0, 3)),
        st.tuples(st.just("rebill"), st.integers(0, 2)),
        st.tuples(st.just("duplicate"), st.integers(0, 50)),
        st.tuples(st.just("refund"), st.integers(0, 60), st.sampled_from([None, "0.01", "1", "5.55", "100", "99999"])),
        st.tuples(st.just("chargeback"), st.integers(0, 60)),
        st.tuples(st.just("run"), st.booleans()),
        st.tuples(st.just("cancel"), st.integers(0, 20)),
        st.tuples(st.just("wait"), st.integers(1, 6)),
    ),
    min_size=1,
    max_size=25,
)


@pytest.fixture
def world(affnet_app, affnet_network, affnet_clock):
    """Three affiliates (the third without a payout method) approved on an offer per currency, each with
    one click per offer (the sales of the history all come from it)."""
    bank = Bank()
    services = affnet_app.extensions["affnet"]
    services.pm.register(bank)
    methods = payouts.Methods.from_plugins(services.pm)
    offers = {}
    for currency, (rule, _, _) in OFFERS.items():
        rules = [accounts.RuleSpec.parse(rule)] + (
            [accounts.RuleSpec.parse("rebill=4.00")] if currency == "USD" else []
        )
        offers[currency], _ = accounts.create_offer(
            affnet_network.advertiser, f"Offer {currency}", "https://offer.example/", currency=currency, rules=rules
        )
    affiliates, clicks = [], {}
    affnet_clock.set(T0 - timedelta(days=1))
    for n in range(3):
        user, _ = accounts.create_user(f"p{n}@example.com", "affiliate")
        affiliates.append(user)
        if n < 2:
            payouts.set_method(methods, user, "bank", {"iban": f"iban-{n}"}, 24, now=T0 - timedelta(days=30))
        for currency, offer in offers.items():
            participation = accounts.apply(user, offer)
            accounts.set_participation_status(participation, "approved")
            clicks[(n, currency)] = click_id_of(click(affnet_app.test_client(), participation.ref_code))
    return services, methods, bank, offers, affiliates, clicks


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(history=steps)
@pytest.mark.parametrize("affnet_config", [{"payouts.minimums": "JPY=5000"}])
def test_every_balance_equals_the_model_and_no_payout_is_sent_twice(world, affnet_settings, history):
    services, methods, bank, offers, affiliates, clicks = world
    model, at, sales = Model(), T0, []
    bank.keys.clear()
    with db.atomic() as transaction:  # each history starts from the same world
        for step in history:
            at += timedelta(hours=7)
            clock.freeze(at)
            kind = step[0]
            if kind == "wait":
                at += timedelta(days=step[1])
                clock.freeze(at)
            elif kind in ("sale", "rebill"):
                if kind == "rebill" and not any(s[1] == "USD" and s[0] == step[1] for s in sales):
                    continue
                n, currency = (step[1], step[2]) if kind == "sale" else (step[1], "USD")
                grosses = OFFERS[currency][1]
                gross = D(grosses[step[3] % len(grosses)] if kind == "sale" else "19.00")
                payment = f"pi_{len(sales)}"
                body = {
                    "click_id": clicks[(n, currency)],
                    "user_ref": f"cus_{n}_{currency}",
                    "event": kind,
                    "external_payment_id": payment,
                    "gross_amount": str(gross),
                    "currency": currency,
                    "is_first_payment": kind == "sale",
                }
                _record(services, offers[currency], "conversion", body, at)
                if kind == "sale":
                    rule, _, places = OFFERS[currency]
                    rate = D(rule.split("=")[1].rstrip("%"))
                    commission = rate if not rule.endswith("%") else _round(gross * rate / 100, places)
                else:
                    commission = REBILL_USD
                model.sale((currency, payment), affiliates[n].id, gross, at, commission)
                sales.append((n, currency, payment, body))
            elif kind == "duplicate" and sales:
                n, currency, payment, body = sales[step[1] % len(sales)]
                _record(services, offers[currency], "conversion", body, at)  # nothing new
            elif kind in ("refund", "chargeback"):
                index = step[1] % (len(sales) + 2)  # past the last sale: a reversal that comes before its payment
                payment = f"pi_{index}"
                currency = sales[index][1] if index < len(sales) else "USD"
                amount = D(step[2]) if kind == "refund" and step[2] else None
                if amount is not None and currency == "JPY":
                    amount = amount.quantize(D(1))
                    if not amount:
                        continue
                refund_id = f"re_{at:%j%H}" if kind == "refund" else None
                body = {"external_payment_id": payment}
                body.update({"amount": str(amount)} if amount is not None else {})
                body.update({"refund_id": refund_id} if refund_id else {})
                _record(services, offers[currency], kind, body, at)
                model.reverse((currency, payment), kind, amount, refund_id, at)
            elif kind == "run":
                week = payouts.week_of(at)
                _, made = payouts.run_payouts(affnet_settings, methods, now=at, mode="review")
                expected = _model_run(model, affiliates, at) if week not in model.weeks else {}
                model.weeks.add(week)
                assert {(p.affiliate_id, p.currency): p.amount for p in made} == expected
                for payout in made:
                    model.book(payout.affiliate_id, payout.currency, -payout.amount, at)
                    model.open_payouts[payout.id] = (payout.affiliate_id, payout.currency, payout.amount)
                if step[1] and made:
                    payouts.approve([p.id for p in made], now=at)
                    payouts.send_approved(services, methods, now=at)
                    for payout in made:
                        model.open_payouts.pop(payout.id)
            elif kind == "cancel" and model.open_payouts:
                payout_id = sorted(model.open_payouts)[step[1] % len(model.open_payouts)]
                payouts.cancel(Payout.get_by_id(payout_id), now=at)
                affiliate, currency, amount = model.open_payouts.pop(payout_id)
                model.book(affiliate, currency, amount, at)
            for affiliate in affiliates:
                got = ledger.balances(affiliate.id, at=at)
                for currency in OFFERS:
                    payable = got.get(currency, {}).get("payable", D(0))
                    assert payable == model.payable(affiliate.id, currency, at), (affiliate.email, currency, step)
        assert len(bank.keys) == len(set(bank.keys)), "a payout sent twice"
        transaction.rollback()
    clock.freeze(None)


def _record(services, offer, call, body, at):
    services.recorder.record(offer, parse_call(call, body, offer), now=at)


def _model_run(model: Model, affiliates, at) -> dict:
    """What the model pays: each affiliate with a method (the first two) whose payable reaches the minimum."""
    paid = {}
    for affiliate in affiliates[:2]:
        for currency in OFFERS:
            amount = model.payable(affiliate.id, currency, at)
            if amount > 0 and amount >= MINIMUM[currency]:
                paid[(affiliate.id, currency)] = amount
    return paid
