"""The tables of affnet.

Conventions: times are naive UTC; money is ``MoneyField`` (exact Decimal);
public identifiers (``click_id``, ``txid``, ``ref_code``) are random strings,
never the row id. Ledger entries and delivery attempts are only ever added.
"""

import json

from peewee import (
    BigAutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from .. import clock
from .db import db
from ..earnings.money import from_units, to_units

ROLES = ("admin", "advertiser", "affiliate")
EVENT_KINDS = ("lead", "trial", "sale", "rebill", "refund", "chargeback")
CONVERSION_KINDS = ("lead", "trial", "sale", "rebill")
REVERSAL_KINDS = ("refund", "chargeback")
STATUS_OF_EVENT = {
    "lead": "lead",
    "trial": "lead",
    "sale": "sale",
    "rebill": "sale",
    "refund": "rejected",
    "chargeback": "rejected",
}
PARTICIPATION_STATES = ("pending", "approved", "rejected", "paused")


class MoneyField(BigIntegerField):
    """An exact Decimal kept as whole 1/10,000 units."""

    def db_value(self, value):
        return None if value is None else to_units(value)

    def python_value(self, value):
        return None if value is None else from_units(value)


class JSONField(TextField):
    def db_value(self, value):
        return None if value is None else json.dumps(value, sort_keys=True, default=str)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class User(BaseModel):
    """An account. A sign-up waits for the operator (``approved_at`` None);
    ``is_active`` False is a disabled account. ``session_version`` is part of
    every session cookie: raising it (a new password, "log out everywhere")
    ends every session made before."""

    email = CharField(unique=True)
    name = CharField(default="")
    role = CharField(choices=[(role, role) for role in ROLES])
    password_hash = CharField()
    is_active = BooleanField(default=True)
    created_at = DateTimeField(default=clock.now)
    approved_at = DateTimeField(null=True)
    language = CharField(default="")  # "" follows the browser
    session_version = IntegerField(default=0)
    last_login_at = DateTimeField(null=True)
    totp_secret = TextField(default="")  # the authenticator's shared secret, encrypted; "" without two-factor log-in
    totp_enabled_at = DateTimeField(null=True)
    totp_last_step = BigIntegerField(default=0)  # the last 30-second step used: a code works once

    class Meta:
        table_name = "users"


class RecoveryCode(BaseModel):
    """A one-time code that stands in for the authenticator: only its hash is kept."""

    user = ForeignKeyField(User, backref="recovery_codes", on_delete="CASCADE")
    code_hash = CharField(unique=True)
    created_at = DateTimeField(default=clock.now)
    used_at = DateTimeField(null=True)


class PasswordReset(BaseModel):
    """A one-time link to set a new password: only the token's hash is kept."""

    user = ForeignKeyField(User, backref="password_resets", on_delete="CASCADE")
    token_hash = CharField(unique=True)
    created_at = DateTimeField(default=clock.now)
    expires_at = DateTimeField()
    used_at = DateTimeField(null=True)


class Offer(BaseModel):
    slug = CharField(unique=True)
    name = CharField()
    advertiser = ForeignKeyField(User, backref="offers")
    landing_url = TextField()
    currency = CharField(max_length=3, default="USD")
    cookie_days = IntegerField(default=60)
    hold_days = IntegerField(default=7)
    is_active = BooleanField(default=True)
    is_public = BooleanField(default=True)
    approval = CharField(default="manual")  # manual: the owner decides each application; auto: approved at once
    description = TextField(default="")
    key_hash = CharField(unique=True)
    key_hint = CharField(default="")
    key_last_used_at = DateTimeField(null=True)  # updated at most once a minute per process
    created_at = DateTimeField(default=clock.now)


class CommissionRule(BaseModel):
    """What one event of an offer pays: ``fixed`` (amount in the offer's
    currency) or ``percent`` (of the gross amount, in its currency). A rebill
    rule may stop paying ``rebill_months`` after the customer's first payment."""

    offer = ForeignKeyField(Offer, backref="rules", on_delete="CASCADE")
    event = CharField(choices=[(kind, kind) for kind in CONVERSION_KINDS])
    kind = CharField(choices=[("fixed", "fixed"), ("percent", "percent")])
    amount = MoneyField()
    rebill_months = IntegerField(null=True)

    class Meta:
        indexes = ((("offer", "event"), True),)


class Participation(BaseModel):
    offer = ForeignKeyField(Offer, backref="participations")
    affiliate = ForeignKeyField(User, backref="participations")
    ref_code = CharField(unique=True)
    status = CharField(default="pending")
    note = TextField(default="")  # the affiliate's, with the application
    decision_note = TextField(default="")  # the product owner's (or operator's), with the last decision
    created_at = DateTimeField(default=clock.now)
    decided_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("offer", "affiliate"), True),)


class Click(BaseModel):
    id = BigAutoField()
    click_id = CharField(unique=True)
    created_at = DateTimeField(index=True)
    participation = ForeignKeyField(Participation, backref="clicks")
    offer = ForeignKeyField(Offer, index=False)  # indexed first in (offer, created_at, ...)
    affiliate = ForeignKeyField(User, index=False)  # indexed first in (affiliate, created_at, ...)
    s1 = CharField(null=True)
    s2 = CharField(null=True)
    s3 = CharField(null=True)
    s4 = CharField(null=True)
    s5 = CharField(null=True)
    s6 = CharField(null=True)
    s7 = CharField(null=True)
    s8 = CharField(null=True)
    s9 = CharField(null=True)
    s10 = CharField(null=True)
    fbclid = CharField(null=True)
    clickid = CharField(null=True)
    ad_click_ids = TextField(null=True)  # {"gclid": ..., "ttclid": ...} as compact JSON (tracking.AD_CLICK_IDS)
    ip = CharField(null=True)
    user_agent = TextField(null=True)
    referer = TextField(null=True)
    is_unique = BooleanField(default=True)
    is_bot = BooleanField(default=False)
    is_over_limit = BooleanField(default=False)  # one address's clicks beyond tracking.click_rate_limit

    class Meta:
        indexes = (
            # reports (affnet.core.reports): index-only counts per day for one affiliate or one offer
            (("affiliate", "created_at", "offer", "is_unique", "is_bot"), False),
            (("offer", "created_at", "is_unique", "is_bot"), False),
        )

    def subs(self) -> dict:
        return {f"sub{n}": getattr(self, f"s{n}") for n in range(1, 11)}


class ClickRollup(BaseModel):
    """Clicks counted per affiliate, offer and 15-minute slot (UTC), for the
    reports grouped by day, offer or affiliate (``affnet.core.clicks.rollup``)."""

    affiliate = ForeignKeyField(User, index=False)  # indexed first in (affiliate, bucket, offer)
    offer = ForeignKeyField(Offer, index=False)  # indexed first in (offer, bucket)
    bucket = DateTimeField()  # the slot's start: :00, :15, :30 or :45
    clicks = IntegerField()
    unique_clicks = IntegerField()  # unique and not bots, as reports count them
    bot_clicks = IntegerField()

    class Meta:
        indexes = (
            (("affiliate", "bucket", "offer"), True),
            (("offer", "bucket"), False),
            (("bucket",), False),
        )


class RollupMark(BaseModel):
    """How far ``ClickRollup`` is complete: every click before ``until`` is counted there, none after."""

    name = CharField(unique=True)
    until = DateTimeField(null=True)


class Event(BaseModel):
    """One thing reported by a product owner.

    ``dedup_key`` with the offer is the idempotency key, enforced by a unique
    index. A refund or chargeback has ``reverses`` set to the payment it
    reverses, or ``pending`` true while that payment has not arrived yet.
    """

    id = BigAutoField()
    txid = CharField(unique=True)
    offer = ForeignKeyField(Offer, backref="events", index=False)  # indexed first in (offer, dedup_key)
    kind = CharField(choices=[(kind, kind) for kind in EVENT_KINDS])
    status = CharField()
    dedup_key = TextField()  # a refund's holds its payment's id and its own, 255 characters each
    participation = ForeignKeyField(Participation, null=True, backref="events")
    affiliate = ForeignKeyField(User, null=True, index=False)  # indexed first in (affiliate, occurred_at, txid)
    click = ForeignKeyField(Click, null=True)
    attributed = BooleanField(default=False)
    user_ref = CharField(null=True, index=True)
    external_payment_id = CharField(null=True)
    refund_id = CharField(null=True)
    gross_amount = MoneyField(null=True)
    currency = CharField(max_length=3, null=True)
    payout = MoneyField(default=0)
    payout_currency = CharField(max_length=3)
    is_first_payment = BooleanField(default=False)
    reverses = ForeignKeyField("self", null=True, backref="reversals")
    pending = BooleanField(default=False)
    source = CharField(default="api")
    is_test = BooleanField(default=False)  # a test conversion: recorded and priced, never booked or paid
    occurred_at = DateTimeField(index=True)

    class Meta:
        indexes = (
            (("offer", "dedup_key"), True),
            (("offer", "external_payment_id"), False),
            # the stats API's keyset order, and reports per offer
            (("affiliate", "occurred_at", "txid"), False),
            (("offer", "occurred_at"), False),
        )


# Pending reversals are few and looked for on every payment: a partial index holds only them, and
# being tiny it is the one the planner takes even before the table has statistics.
Event.add_index(
    Event.index(Event.offer, Event.external_payment_id, name="event_pending_payment").where(Event.pending == True)
)


class PayoutRun(BaseModel):
    """One weekly payout run (``affnet.core.earnings.payouts``): at most one
    per ISO week, with the reasons it left affiliates out."""

    week = CharField(unique=True)  # 2026-W49
    mode = CharField()  # review (waits for the operator's approval) or auto
    skipped = JSONField(default=list)  # [{"affiliate": email, "currency": ..., "balance": ..., "reason": ...}]
    created_at = DateTimeField(default=clock.now)


PAYOUT_STATES = ("awaiting_approval", "approved", "sending", "sent", "completed", "failed", "cancelled")


class Payout(BaseModel):
    """What one affiliate is paid in one currency by one run, booked in the
    ledger when it is made. ``idempotency_key`` (``affnet-payout-<network key>-<id>``) goes
    with every request to the provider; ``details`` are the affiliate's
    method fields at the run, encrypted."""

    affiliate = ForeignKeyField(User, backref="payouts")
    currency = CharField(max_length=3)
    amount = MoneyField()
    method = CharField()
    status = CharField(default="awaiting_approval")  # PAYOUT_STATES
    idempotency_key = CharField(unique=True)
    external_id = CharField(null=True)
    error = TextField(default="")
    created_at = DateTimeField(default=clock.now)
    sent_at = DateTimeField(null=True)
    run = ForeignKeyField(PayoutRun, null=True, backref="payouts")
    details = TextField(default="")
    destination = TextField(default="")
    reference = CharField(null=True)  # what completed it: a transaction hash recorded by the operator
    note = TextField(default="")
    attempts = IntegerField(default=0)
    claimed_until = DateTimeField(null=True)
    approved_at = DateTimeField(null=True)
    completed_at = DateTimeField(null=True)
    updated_at = DateTimeField(null=True)

    class Meta:
        indexes = (
            (("run", "affiliate", "currency"), True),
            (("method", "reference"), True),  # one transaction hash completes one payout
            (("status",), False),
        )


class PayoutMinimum(BaseModel):
    """A minimum the operator raised for one affiliate in one currency."""

    affiliate = ForeignKeyField(User)
    currency = CharField(max_length=3)
    amount = MoneyField()

    class Meta:
        indexes = ((("affiliate", "currency"), True),)


class NetworkSecret(BaseModel):
    """The operator's own credentials for a plugin (a Wise API token, a
    PayPal client secret), encrypted; shown again only as a hint."""

    name = CharField(unique=True)  # <method>.<field>
    value = TextField()
    hint = CharField(default="")
    updated_at = DateTimeField(default=clock.now)


class LedgerEntry(BaseModel):
    """An append-only line of an affiliate's account in one currency.

    ``available_at`` is when it becomes payable: the event time plus the
    offer's hold for a commission, at once for a reversal or a payout.
    """

    id = BigAutoField()
    affiliate = ForeignKeyField(User, backref="ledger", index=False)  # indexed first in (affiliate, currency, ...)
    currency = CharField(max_length=3)
    amount = MoneyField()
    kind = CharField()  # commission, reversal, payout (negative), payout_return (a cancelled payout given back)
    event = ForeignKeyField(Event, null=True, backref="ledger_entries")
    payout = ForeignKeyField(Payout, null=True, backref="ledger_entries")
    memo = TextField(default="")
    available_at = DateTimeField()
    created_at = DateTimeField(default=clock.now)

    class Meta:
        indexes = (
            (("affiliate", "currency", "available_at"), False),
            (("payout", "kind"), True),  # a payout is booked once and given back once
        )


class SettingVersion(BaseModel):
    """One saved version of a plugin's settings for an affiliate (or one
    participation of theirs). The version in force at a time is the newest
    whose ``effective_at`` has passed; secret fields are stored encrypted."""

    kind = CharField()
    affiliate = ForeignKeyField(User)
    participation = ForeignKeyField(Participation, null=True)
    values = JSONField()
    enabled = BooleanField(default=True)
    effective_at = DateTimeField()
    created_at = DateTimeField(default=clock.now)

    class Meta:
        indexes = ((("kind", "affiliate", "participation", "effective_at"), False),)


class Delivery(BaseModel):
    """The outbox: one message to the outside world (a postback, a pixel
    event), written in the same transaction as its event and sent by the
    worker. Claimed rows have ``claimed_until`` in the future."""

    id = BigAutoField()
    event = ForeignKeyField(Event, null=True, backref="deliveries")
    kind = CharField()
    setting = ForeignKeyField(SettingVersion, null=True, index=False)  # versions are never deleted
    payload = JSONField()
    status = CharField(default="pending")  # pending, sent, failed
    is_test = BooleanField(default=False)
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField()
    claimed_by = CharField(null=True)
    claimed_until = DateTimeField(null=True)
    last_error = TextField(default="")
    created_at = DateTimeField(default=clock.now)
    sent_at = DateTimeField(null=True)


# The worker's claim walks due deliveries in order; sent and failed ones never need an index.
Delivery.add_index(
    Delivery.index(Delivery.next_attempt_at, Delivery.id, name="delivery_due").where(Delivery.status == "pending")
)


class DeliveryAttempt(BaseModel):
    id = BigAutoField()
    delivery = ForeignKeyField(Delivery, backref="attempt_log", on_delete="CASCADE")
    at = DateTimeField(default=clock.now)
    outcome = CharField()  # sent, retry, failed
    url = TextField(default="")
    status_code = IntegerField(null=True)
    response_excerpt = TextField(default="")
    error = TextField(default="")


class OfferSecret(BaseModel):
    """A secret a plugin keeps per offer (a payment provider's signing
    secret), encrypted; see ``affnet.core.network.offer_secrets``."""

    offer = ForeignKeyField(Offer, backref="secrets", on_delete="CASCADE")
    name = CharField()
    value = TextField()
    hint = CharField(default="")
    updated_at = DateTimeField(default=clock.now)

    class Meta:
        indexes = ((("offer", "name"), True),)


class SchemaVersion(BaseModel):
    version = IntegerField()
    applied_at = DateTimeField(default=clock.now)


class ApiToken(BaseModel):
    """A token an affiliate's tracker uses to pull its stats
    (``affnet.core.network.api_tokens``). Only the SHA-256 of the token is kept; the
    token itself is shown once, when it is made."""

    affiliate = ForeignKeyField(User, backref="api_tokens")
    name = CharField()
    token_hash = CharField(unique=True)
    hint = CharField(default="")
    created_at = DateTimeField(default=clock.now)
    last_used_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)


class WebhookCall(BaseModel):
    """One call of a plugin's webhook for an offer (Stripe's, say) and what came of it, for the product
    owner's page; the newest few per offer and source are kept."""

    id = BigAutoField()
    offer = ForeignKeyField(Offer, backref="webhook_calls", on_delete="CASCADE", index=False)
    source = CharField()  # the plugin's name
    at = DateTimeField(default=clock.now)
    status_code = IntegerField()
    event_type = CharField(default="")
    result = TextField(default="")  # what was recorded, or why nothing was

    class Meta:
        indexes = ((("offer", "source", "at"), False),)


class NetworkSetting(BaseModel):
    """A network policy the operator sets on the settings page (``affnet.core.network.policy``); it
    overrides the config file's value of the same key."""

    key = CharField(unique=True)
    value = TextField()  # as written in the config file: text, parsed by the key's Field
    updated_at = DateTimeField(default=clock.now)
    updated_by = ForeignKeyField(User, null=True)


class WorkerHeartbeat(BaseModel):
    """The last sign of life of each worker (``affnet worker``), for the operator's health page."""

    worker = CharField(unique=True)  # host-pid
    started_at = DateTimeField(default=clock.now)
    beat_at = DateTimeField(default=clock.now)


class AuditEntry(BaseModel):
    """One change, as ``affnet.core.network.audit`` records it: who (``actor``, or ``actor_label`` for the
    command line and the worker), when, from which address, what changed (``changes``: old and new values;
    a secret only as changed). ``offer`` and ``account`` say who else may read it: the offer's owner, the
    account it concerns. Append-only: the database refuses an UPDATE or DELETE."""

    id = BigAutoField()
    at = DateTimeField(default=clock.now)
    actor = ForeignKeyField(User, null=True, backref="audit_made", index=False)
    actor_label = CharField(default="")
    ip = CharField(default="")
    action = CharField()  # offer.create, offer.edit, commission.set, offer.key_rotate, ...
    subject = CharField(default="")  # what was changed, as people name it: an offer's slug, an email, a refCode
    offer = ForeignKeyField(Offer, null=True, index=False)
    account = ForeignKeyField(User, null=True, index=False)
    changes = JSONField(default=dict)

    class Meta:
        indexes = ((("at",), False), (("offer", "at"), False), (("account", "at"), False))


ALL_MODELS = (
    User,
    RecoveryCode,
    PasswordReset,
    Offer,
    CommissionRule,
    Participation,
    Click,
    ClickRollup,
    RollupMark,
    Event,
    PayoutRun,
    Payout,
    PayoutMinimum,
    NetworkSecret,
    LedgerEntry,
    SettingVersion,
    Delivery,
    DeliveryAttempt,
    OfferSecret,
    SchemaVersion,
    ApiToken,
    WebhookCall,
    NetworkSetting,
    WorkerHeartbeat,
    AuditEntry,
)
