"""Payouts: the weekly run, a payout's states, sending through the method's
plugin, and the operator's actions. The rules are SPEC section 8; the
operator's and affiliate's guide is docs/payouts.md.

**The run** (``run_payouts``), at most once per ISO week: for every affiliate
and currency whose payable balance (``ledger.balances``) reaches the minimum
(``payouts.minimum``, a currency's own in ``payouts.minimums``, raised for one
affiliate by ``raise_minimum``), and who has a valid payout method in force
that pays that currency, one payout of the whole payable balance, booked in
the ledger (a ``payout`` entry of minus the amount) in the same transaction.
Whoever is left out is listed on the run with the reason. A second run in the
same week finds the week's run and makes nothing.

**States**: ``awaiting_approval`` (review mode) → ``approved`` → ``sending``
(claimed by one sender) → ``sent`` (the provider took it) → ``completed``, or
``failed`` with the provider's reason; ``cancelled`` gives the amount back
with a ``payout_return`` entry. A payout is booked once and given back once:
a unique index on (payout, kind) of the ledger holds it.

**Never twice.** Every request to the provider carries the payout's
idempotency key (``affnet-payout-<network key>-<id>``, the network key made
once per database). A sender claims a payout
(``sending``, until ``claimed_until``) before it asks the plugin and records
the answer after; if it dies in between, the claim runs out and the next
round asks the plugin again with the same key, and the provider answers with
the payment it already made. An exception or a ``retry`` answer puts the
payout back to ``approved`` for the next round, with the same key.
"""

import csv
import secrets
import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from peewee import IntegrityError, fn

from ...plugins.manager import declared_by_name
from ...plugins.types import DeliveryKind, PayoutRequest, PayoutResult, SettingField
from .. import clock
from ..deliveries import setting_versions
from ..network import audit
from ..network.network_secrets import network_secret, network_secrets, set_network_secret
from ..storage.db import db
from ..storage.models import LedgerEntry, Payout, PayoutMinimum, PayoutRun, User
from ..storage.secrets import keyring
from .money import from_units

KEY_PREFIX = "affnet-payout-"
SETTING_KIND = "payout"  # the affiliate's method, a setting version like a postback's (the 24-hour rule)
CANCELLABLE = ("awaiting_approval", "approved", "failed")  # unsent, or refused by the provider


class PayoutError(ValueError):
    """An action the payout's state or the input does not allow; nothing was changed."""


@dataclass(frozen=True)
class Methods:
    """The enabled payout methods, by name, and the plugin that offers each."""

    by_name: dict
    plugin_of: dict

    @classmethod
    def from_plugins(cls, pm) -> "Methods":
        return cls(*declared_by_name(pm, "payout_methods"))

    def config(self, services, name: str) -> dict:
        """The method's plugin config section with the operator's credentials."""
        config = services.plugin_config(self.plugin_of[name])
        config.update(network_secrets(f"{name}."))
        return config


# ---- the affiliate's method ------------------------------------------------------------------------------------


def setting_kind(method) -> DeliveryKind:
    """The method as a settings kind: its fields and ``method``, checked by its ``validate``."""

    def validate(values: dict) -> dict:
        details = {name: value for name, value in values.items() if name != "method"}
        return dict(method.validate(details) or {}) if method.validate else {}

    return DeliveryKind(
        name=SETTING_KIND,
        label=method.label,
        fields=(SettingField("method", "Method", required=True), *method.fields),
        validate=validate,
    )


def set_method(methods: Methods, affiliate: User, name: str, details: dict, delay_hours: int, now=None):
    """Save the affiliate's payout method and its fields as a new setting
    version: the first takes effect at once, a change after ``delay_hours``
    (so a stolen session cannot redirect the next payout at once). Raises
    ``setting_versions.SettingsError``; returns (version, warnings)."""
    method = methods.by_name.get(name)
    if method is None:
        raise setting_versions.SettingsError({"method": f"must be one of {', '.join(sorted(methods.by_name))}"})
    values = {"method": name, **{key: (value or "").strip() for key, value in details.items()}}
    return setting_versions.save(setting_kind(method), affiliate, values, delay_hours=delay_hours, now=now)


def method_in_force(affiliate_id: int, at=None) -> tuple[str, dict] | None:
    """(method name, its fields) in force for the affiliate at ``at``, or None."""
    version = setting_versions.version_in_force(SETTING_KIND, affiliate_id, None, at or clock.now())
    if version is None:
        return None
    values = setting_versions.decrypt_values(version.values)
    return values.pop("method"), values


# ---- minimums ----------------------------------------------------------------------------------------------------


def network_minimum(settings, currency: str) -> Decimal:
    return settings["payouts.minimums"].get(currency, settings["payouts.minimum"])


def minimum_for(settings, affiliate_id: int, currency: str) -> Decimal:
    """The network's minimum for the currency, or the one raised for this affiliate."""
    raised = PayoutMinimum.get_or_none((PayoutMinimum.affiliate == affiliate_id) & (PayoutMinimum.currency == currency))
    return max(network_minimum(settings, currency), raised.amount if raised else Decimal(0))


def raise_minimum(settings, affiliate: User, currency: str, amount: Decimal) -> None:
    """Set one affiliate's minimum in a currency; it may only be at or above the network's."""
    floor = network_minimum(settings, currency)
    if amount < floor:
        raise PayoutError(f"the minimum may only be raised: the network's for {currency} is {floor}")
    with db.atomic():
        PayoutMinimum.delete().where(
            (PayoutMinimum.affiliate == affiliate.id) & (PayoutMinimum.currency == currency)
        ).execute()
        if amount > floor:
            PayoutMinimum.create(affiliate=affiliate, currency=currency, amount=amount)
        audit.record("payout.minimum", affiliate.email, {currency: {"new": f"{amount:f}"}}, account=affiliate)


# ---- the run -----------------------------------------------------------------------------------------------------


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def next_run_at(settings, now: datetime) -> datetime:
    """When the worker makes the next weekly run (server time, as ``schedule`` reads it)."""
    hour, minute = (int(part) for part in settings["payouts.time"].split(":"))
    day = _WEEKDAYS.index(settings["payouts.weekday"])
    moment = now.replace(hour=hour, minute=minute, second=0, microsecond=0) + timedelta(days=(day - now.weekday()) % 7)
    return moment if moment > now else moment + timedelta(days=7)


def week_of(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def _payable(now: datetime) -> list[tuple[int, str, Decimal]]:
    rows = (
        LedgerEntry.select(LedgerEntry.affiliate, LedgerEntry.currency, fn.SUM(LedgerEntry.amount).coerce(False))
        .where(LedgerEntry.available_at <= now)
        .group_by(LedgerEntry.affiliate, LedgerEntry.currency)
        .order_by(LedgerEntry.affiliate, LedgerEntry.currency)
        .tuples()
    )
    return [(affiliate, currency, from_units(units)) for affiliate, currency, units in rows if units and units > 0]


def _why_not(settings, methods: Methods, affiliate_id: int, currency: str, amount: Decimal, now) -> str | None:
    minimum = minimum_for(settings, affiliate_id, currency)
    if amount < minimum:
        return f"below the minimum of {minimum} {currency}"
    chosen = method_in_force(affiliate_id, now)
    if chosen is None:
        return "no payout method set"
    name, details = chosen
    method = methods.by_name.get(name)
    if method is None:
        return f"the payout method {name} is not enabled on this network"
    if method.currencies and currency not in method.currencies:
        return f"{method.label} does not pay {currency}"
    faults = dict(method.validate(details) or {}) if method.validate else {}
    if faults:
        return "invalid payout details: " + "; ".join(f"{field} {why}" for field, why in faults.items())
    return None


def run_payouts(settings, methods: Methods, now=None, mode: str | None = None) -> tuple[PayoutRun, list[Payout]]:
    """This week's run: (the run, the payouts it made now). A run already
    made this week is returned with no new payouts."""
    now = now or clock.now()
    mode = mode or settings["payouts.mode"]
    week = week_of(now)
    existing = PayoutRun.get_or_none(PayoutRun.week == week)
    if existing is not None:
        return existing, []
    made: list[Payout] = []
    try:
        with db.atomic():
            run = PayoutRun.create(week=week, mode=mode, created_at=now)
            skipped = []
            emails = dict(User.select(User.id, User.email).tuples())
            key = network_key()
            for affiliate_id, currency, amount in _payable(now):
                reason = _why_not(settings, methods, affiliate_id, currency, amount, now)
                if reason:
                    skipped.append(
                        {
                            "affiliate": emails.get(affiliate_id),
                            "currency": currency,
                            "balance": str(amount),
                            "reason": reason,
                        }
                    )
                    continue
                name, details = method_in_force(affiliate_id, now)
                made.append(_book(run, affiliate_id, currency, amount, name, details, methods, mode, key, now))
            run.skipped = skipped
            run.save()
            audit.record("payout.run", week, {"payouts": {"new": len(made)}, "mode": {"new": mode}})
    except IntegrityError:  # another worker made this week's run meanwhile: its run stands, this one made nothing
        run = PayoutRun.get_or_none(PayoutRun.week == week)
        if run is None:
            raise
        return run, []
    return run, made


def network_key() -> str:
    """A random part of every idempotency key, made once per database: a provider that remembers keys
    (PayPal for 30 days, Wise for good) never takes a payout of a new or second installation for one of
    another's with the same id."""
    name = "payouts.network_key"
    key = network_secret(name)
    if key is None:
        set_network_secret(name, secrets.token_hex(4))
        key = network_secret(name)
    return key


def _book(run, affiliate_id, currency, amount, name, details, methods, mode, key, now) -> Payout:
    method = methods.by_name[name]
    destination = method.destination(details) if method.destination else " ".join(str(v) for v in details.values())
    payout = Payout.create(
        run=run,
        affiliate=affiliate_id,
        currency=currency,
        amount=amount,
        method=name,
        status="approved" if mode == "auto" else "awaiting_approval",
        idempotency_key=f"{KEY_PREFIX}run{run.id}-{affiliate_id}-{currency}",  # replaced below, once the id exists
        details=keyring.encrypt(json.dumps(details)),
        destination=destination,
        created_at=now,
        approved_at=now if mode == "auto" else None,
        updated_at=now,
    )
    payout.idempotency_key = f"{KEY_PREFIX}{key}-{payout.id}"
    Payout.update(idempotency_key=payout.idempotency_key).where(Payout.id == payout.id).execute()
    LedgerEntry.create(
        affiliate=affiliate_id,
        currency=currency,
        amount=-amount,
        kind="payout",
        payout=payout,
        memo=f"payout {payout.id} ({name})",
        available_at=now,
        created_at=now,
    )
    return payout


# ---- the operator's actions --------------------------------------------------------------------------------------


def approve(payout_ids: list[int], now=None) -> int:
    """Approve payouts awaiting approval; returns how many were."""
    now = now or clock.now()
    with db.atomic():
        waiting = list(Payout.select().where(Payout.id.in_(payout_ids) & (Payout.status == "awaiting_approval")))
        approved = (
            Payout.update(status="approved", approved_at=now, updated_at=now)
            .where(Payout.id.in_([p.id for p in waiting]) & (Payout.status == "awaiting_approval"))
            .execute()
        )
        for payout in waiting:
            _audit("payout.approve", payout, "awaiting_approval", "approved")
    return approved


def _audit(action: str, payout: Payout, old: str, new: str, **more) -> None:
    changes = {"status": {"old": old, "new": new}, **{name: {"new": value} for name, value in more.items()}}
    audit.record(
        action, f"payout {payout.id} ({payout.amount} {payout.currency})", changes, account=payout.affiliate_id
    )


def cancel(payout: Payout, now=None) -> None:
    """Cancel a payout not sent (or failed): its amount returns to the balance
    with a ``payout_return`` ledger entry, in one transaction."""
    now = now or clock.now()
    with db.atomic():
        changed = (
            Payout.update(status="cancelled", updated_at=now)
            .where((Payout.id == payout.id) & Payout.status.in_(CANCELLABLE))
            .execute()
        )
        if not changed:
            raise PayoutError(
                f"payout {payout.id} is {Payout.get_by_id(payout.id).status}: only an unsent or failed one can be cancelled"
            )
        LedgerEntry.create(
            affiliate=payout.affiliate_id,
            currency=payout.currency,
            amount=payout.amount,
            kind="payout_return",
            payout=payout.id,
            memo=f"payout {payout.id} cancelled",
            available_at=now,
            created_at=now,
        )
        _audit("payout.cancel", payout, payout.status, "cancelled")


def record_reference(methods: Methods, payout: Payout, reference: str, now=None) -> Payout:
    """Complete a payout the operator paid by hand (a USDT transfer) with its
    reference (the transaction hash), checked by the method; one reference
    completes one payout (a unique index)."""
    now = now or clock.now()
    reference = (reference or "").strip()
    payout = Payout.get_by_id(payout.id)  # as it is now, not as the caller read it
    method = methods.by_name.get(payout.method)
    if method is None or method.check_reference is None:
        raise PayoutError(f"payout {payout.id} ({payout.method}) is not completed by a recorded reference")
    if payout.status != "sent":
        raise PayoutError(f"payout {payout.id} is {payout.status}: only a sent one can be completed")
    wrong = method.check_reference(_details(payout), reference)
    if wrong:
        raise PayoutError(f"payout {payout.id}: {wrong}")
    try:
        with db.atomic():
            changed = (
                Payout.update(status="completed", reference=reference, completed_at=now, updated_at=now)
                .where((Payout.id == payout.id) & (Payout.status == "sent"))
                .execute()
            )
            if changed:
                _audit("payout.reference", payout, "sent", "completed", reference=reference)
    except IntegrityError:
        other = Payout.get((Payout.method == payout.method) & (Payout.reference == reference))
        raise PayoutError(f"{reference} already completed payout {other.id}") from None
    if not changed:
        raise PayoutError(f"payout {payout.id} changed meanwhile; nothing recorded")
    return Payout.get_by_id(payout.id)


def import_references(methods: Methods, text: str, now=None) -> tuple[list[Payout], list[str]]:
    """Record references from a CSV with ``payout_id`` and ``tx_hash`` columns
    (the transfer file, filled in); a line without a hash is left for later.
    Returns (completed payouts, one line per refused row)."""
    completed, refused = [], []
    for number, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        reference = (row.get("tx_hash") or "").strip()
        if not reference:
            continue
        try:
            payout = Payout.get_or_none(Payout.id == int(row.get("payout_id") or 0))
            if payout is None:
                raise PayoutError(f"no payout {row.get('payout_id')!r}")
            completed.append(record_reference(methods, payout, reference, now))
        except (PayoutError, ValueError) as error:
            refused.append(f"line {number}: {error}")
    return completed, refused


# ---- sending and polling -----------------------------------------------------------------------------------------


def _details(payout: Payout) -> dict:
    return json.loads(keyring.decrypt(payout.details)) if payout.details else {}


def request_for(payout: Payout) -> PayoutRequest:
    return PayoutRequest(
        payout_id=payout.id,
        affiliate_id=payout.affiliate_id,
        amount=payout.amount,
        currency=payout.currency,
        details=_details(payout),
        idempotency_key=payout.idempotency_key,
        reference=f"affnet payout {payout.id}",
        external_id=payout.external_id,
    )


def _claim(payout_id: int, now: datetime, claim_seconds: int) -> bool:
    """Take a payout for sending: approved, or left in ``sending`` by a sender whose claim ran out."""
    return (
        Payout.update(
            status="sending",
            claimed_until=now + timedelta(seconds=claim_seconds),
            attempts=Payout.attempts + 1,
            updated_at=now,
        )
        .where(
            (Payout.id == payout_id)
            & ((Payout.status == "approved") | ((Payout.status == "sending") & (Payout.claimed_until < now)))
        )
        .execute()
        == 1
    )


_STATE_OF = {"completed": "completed", "sent": "sent", "failed": "failed", "retry": "approved"}


def _record(payout_id: int, result: PayoutResult, now: datetime, was: str) -> None:
    state = _STATE_OF.get(result.outcome, "approved")
    values = {"status": state, "updated_at": now, "note": result.note, "error": result.error}
    if result.external_id:
        values["external_id"] = result.external_id
    if state in ("sent", "completed"):
        values["sent_at"] = fn.COALESCE(Payout.sent_at, now)
    if state == "completed":
        values["completed_at"] = now
    if state in ("sent", "completed", "failed"):
        values["claimed_until"] = None
    with db.atomic():
        changed = Payout.update(**values).where((Payout.id == payout_id) & (Payout.status == was)).execute()
        if changed and state != "approved":  # a round to try again is not a change of the payout's state
            payout = Payout.get_by_id(payout_id)
            extra = {"error": result.error} if result.error else {}
            _audit("payout.send", payout, was, state, **extra)


def _ask(function, request: PayoutRequest, config: dict) -> PayoutResult:
    try:
        result = function(request, config)
    except Exception as error:  # a plugin that raises is a round to try again, never a lost payout
        return PayoutResult("retry", error=f"{type(error).__name__}: {error}"[:500])
    if not isinstance(result, PayoutResult) or result.outcome not in _STATE_OF:
        return PayoutResult("retry", error=f"the plugin answered {result!r}"[:500])
    return result


def send_approved(services, methods: Methods, now=None, payout_ids: list[int] | None = None) -> dict[str, int]:
    """Send approved payouts (and those a dead sender left in ``sending``),
    one at a time; returns counts per outcome."""
    now = now or clock.now()
    claim_seconds = services.settings["worker.claim_seconds"]
    query = Payout.select().where(
        (Payout.status == "approved") | ((Payout.status == "sending") & (Payout.claimed_until < now))
    )
    if payout_ids is not None:
        query = query.where(Payout.id.in_(payout_ids))
    counts: dict[str, int] = {}
    for payout in query.order_by(Payout.id):
        method = methods.by_name.get(payout.method)
        if method is None or not _claim(payout.id, now, claim_seconds):
            continue
        result = _ask(method.send, request_for(Payout.get_by_id(payout.id)), methods.config(services, payout.method))
        _record(payout.id, result, clock.now(), "sending")
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
    return counts


def poll_sent(services, methods: Methods, now=None) -> dict[str, int]:
    """Ask the providers about payouts they took; completes or fails them."""
    counts: dict[str, int] = {}
    for payout in Payout.select().where(Payout.status == "sent").order_by(Payout.id):
        method = methods.by_name.get(payout.method)
        if method is None or method.poll is None:
            continue
        result = _ask(method.poll, request_for(payout), methods.config(services, payout.method))
        if result.outcome in ("completed", "failed"):
            _record(payout.id, result, now or clock.now(), "sent")
        else:  # still on its way, or no answer this time: it stays sent (never sent again); the operator reads why
            Payout.update(note=result.note or payout.note, error=result.error, updated_at=now or clock.now()).where(
                (Payout.id == payout.id) & (Payout.status == "sent")
            ).execute()
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
    return counts


def transfer_file(services, methods: Methods, name: str, again: bool = False, now=None) -> tuple[str, bytes]:
    """The method's mass-transfer file of the payouts it left to the operator
    (``sent``, no reference yet). Each payout goes into one file: the file's
    name is kept on it, and a later file leaves it out unless ``again``
    (a file lost before it was paid), so no payout is handed over twice."""
    method = methods.by_name.get(name)
    if method is None or method.export is None:
        raise PayoutError(f"{name} makes no transfer file")
    waiting = Payout.select().where((Payout.method == name) & (Payout.status == "sent") & Payout.reference.is_null())
    if not again:
        waiting = waiting.where(Payout.external_id.is_null())
    waiting = list(waiting.order_by(Payout.id))
    if not waiting:
        raise PayoutError(
            f"no {name} payout waits for a transfer file" + ("" if again else " (--again for those in one)")
        )
    try:
        file_name, content = method.export([request_for(p) for p in waiting], methods.config(services, name))
    except ValueError as error:
        raise PayoutError(f"{name} made no file: {error}") from None
    Payout.update(external_id=f"file:{file_name}", updated_at=now or clock.now()).where(
        Payout.id.in_([p.id for p in waiting])
    ).execute()
    return file_name, content


# ---- what the operator's books and the pages read ----------------------------------------------------------------

EXPORT_COLUMNS = ("payout_id", "affiliate", "method", "destination", "amount", "currency", "status", "reference")


def as_row(payout: Payout) -> dict:
    return {
        "payout_id": payout.id,
        "run": payout.run.week if payout.run_id else None,
        "affiliate": payout.affiliate.email,
        "method": payout.method,
        "destination": payout.destination,
        "amount": str(payout.amount),
        "currency": payout.currency,
        "status": payout.status,
        "reference": payout.reference or payout.external_id or "",
        "error": payout.error,
        "note": payout.note,
        "created_at": clock.iso(payout.created_at),
        "completed_at": clock.iso(payout.completed_at),
    }


def export_csv(payouts: list[Payout]) -> str:
    """The run's lines for the operator's books."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for payout in payouts:
        writer.writerow(as_row(payout))
    return buffer.getvalue()


def totals(payouts: list[Payout]) -> dict[tuple[str, str], Decimal]:
    """Sums per (currency, method), for the review."""
    sums: dict[tuple[str, str], Decimal] = {}
    for payout in payouts:
        key = (payout.currency, payout.method)
        sums[key] = sums.get(key, Decimal(0)) + payout.amount
    return sums
