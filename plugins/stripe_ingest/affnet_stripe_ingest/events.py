"""Stripe events turned into the ingest API's bodies (SPEC section 2).

``translate(event)`` reads a verified Stripe event (a plain dict) and returns
a ``Plan``: the ingest calls to make (``conversion``, ``refund`` or
``chargeback``, each with the same JSON body a product owner would send to
``/api/ingest/<call>``), or the reason the event is ignored. It does no I/O
and never calls Stripe's API: what is not in the payload is not used.

What each event becomes:

* ``invoice.payment_succeeded`` and ``invoice.paid`` (select one or both; the
  second is a duplicate of the first and counts once): ``billing_reason``
  ``subscription_create`` is a ``sale`` with ``is_first_payment``;
  ``subscription_cycle``, ``subscription_update`` (a plan change paid at once)
  and ``subscription_threshold`` (usage billing) are ``rebill``s. Invoices of
  other reasons (``manual``, ``quote_accept``, one-off invoices) are not
  subscription payments and are ignored: report those through the ingest
  API. An invoice of amount 0 (the start of a trial, a 100 % coupon) is
  ignored: nothing was paid.
* ``charge.refunded``: a ``refund`` of the newly refunded amount. Each refund
  is booked once: by the refund's id when the charge lists its refunds (API
  versions before 2022-11-15), otherwise by the charge's cumulative
  ``amount_refunded`` less the ``previous_attributes`` Stripe sends with the
  event, keyed by that cumulative total.
* ``charge.dispute.created``: a ``chargeback`` of the disputed amount, keyed
  by the dispute's id.
* ``customer.subscription.created`` with status ``trialing``: a ``trial``
  (deduplicated per customer, as the ingest API does without a payment id).
* Anything else: ignored (answered 200, so Stripe does not retry it).

The payment's id is the PaymentIntent's (``pi_…``) so a payment reported both
here and through the ingest API counts once; without a PaymentIntent it is
the charge's, and for an invoice without either, the invoice's id.
"""

from dataclasses import dataclass, field

from .amounts import AmountError, currency_of, from_minor_units

INVOICE_EVENTS = ("invoice.payment_succeeded", "invoice.paid")
HANDLED_EVENTS = INVOICE_EVENTS + ("charge.refunded", "charge.dispute.created", "customer.subscription.created")
SALE_REASONS = ("subscription_create",)
REBILL_REASONS = ("subscription_cycle", "subscription_update", "subscription_threshold", "subscription")


class PayloadError(ValueError):
    """A signed Stripe event that lacks what its type needs; ``fields`` says what."""

    def __init__(self, message: str, fields: dict | None = None):
        super().__init__(message)
        self.fields = fields or {}


@dataclass(frozen=True)
class Call:
    """One ingest call: ``kind`` is ``conversion``, ``refund`` or ``chargeback``."""

    kind: str
    body: dict


@dataclass(frozen=True)
class Plan:
    calls: list[Call] = field(default_factory=list)
    ignored: str | None = None


def _id(value) -> str | None:
    """An id that Stripe sends as a string, or inside an expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _metadata(value) -> dict:
    return value if isinstance(value, dict) else {}


def _object(event: dict) -> dict:
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise PayloadError("the event has no data.object", {"data.object": "is required"})
    return obj


def _money(obj: dict, name: str, currency: str):
    try:
        return from_minor_units(obj.get(name), currency)
    except AmountError as error:
        raise PayloadError(f"invalid {name}", {name: str(error)}) from None


def _currency(obj: dict) -> str:
    try:
        return currency_of(obj.get("currency"))
    except AmountError as error:
        raise PayloadError("invalid currency", {"currency": str(error)}) from None


def invoice_click_id(invoice: dict) -> str | None:
    """``click_id`` from the subscription's metadata as the invoice carries it:
    ``parent.subscription_details.metadata`` (API 2025-03-31 and later),
    ``subscription_details.metadata`` (earlier), an expanded ``subscription``
    object, and last the invoice's own metadata."""
    parent = invoice.get("parent") if isinstance(invoice.get("parent"), dict) else {}
    subscription = invoice.get("subscription")
    sources = (
        _metadata(_metadata(parent.get("subscription_details")).get("metadata")),
        _metadata(_metadata(invoice.get("subscription_details")).get("metadata")),
        _metadata(subscription.get("metadata")) if isinstance(subscription, dict) else {},
        _metadata(invoice.get("metadata")),
    )
    for metadata in sources:
        value = metadata.get("click_id")
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def invoice_payment_id(invoice: dict) -> str:
    """The PaymentIntent that paid the invoice: ``payment_intent`` (before API
    2025-03-31), else the paid entry of ``payments`` (later versions, when the
    payload includes it), else the charge, else the invoice's own id."""
    found = _id(invoice.get("payment_intent"))
    if found:
        return found
    payments = invoice.get("payments")
    entries = payments.get("data") if isinstance(payments, dict) else None
    if isinstance(entries, list):
        ranked = sorted(
            (entry for entry in entries if isinstance(entry, dict)),
            key=lambda entry: (entry.get("status") != "paid", not entry.get("is_default")),
        )
        for entry in ranked:
            payment = _metadata(entry.get("payment"))
            found = _id(payment.get("payment_intent")) or _id(payment.get("charge"))
            if found:
                return found
    return _id(invoice.get("charge")) or invoice["id"]


def charge_payment_id(charge: dict) -> str:
    """The same id ``invoice_payment_id`` gives the payment this charge belongs to."""
    return _id(charge.get("payment_intent")) or _id(charge.get("invoice")) or charge["id"]


def _invoice(event: dict) -> Plan:
    invoice = _object(event)
    reason = invoice.get("billing_reason")
    if reason in SALE_REASONS:
        kind = "sale"
    elif reason in REBILL_REASONS:
        kind = "rebill"
    else:
        return Plan(ignored=f"billing_reason {reason!r} is not a subscription payment")
    if not _id(invoice.get("id")):
        raise PayloadError("the invoice has no id", {"id": "is required"})
    currency = _currency(invoice)
    paid = _money(invoice, "amount_paid", currency)
    if paid == 0:
        return Plan(ignored="nothing was paid (a trial start or a full discount)")
    body = {
        "click_id": invoice_click_id(invoice),
        "user_ref": _id(invoice.get("customer")),
        "event": kind,
        "external_payment_id": invoice_payment_id(invoice),
        "gross_amount": paid,
        "currency": currency,
        "is_first_payment": kind == "sale",
    }
    return Plan([Call("conversion", {name: value for name, value in body.items() if value is not None})])


def _refunds(event: dict) -> Plan:
    charge = _object(event)
    if not _id(charge.get("id")):
        raise PayloadError("the charge has no id", {"id": "is required"})
    currency = _currency(charge)
    payment_id = charge_payment_id(charge)
    listed = charge.get("refunds")
    listed = listed.get("data") if isinstance(listed, dict) else None
    if listed:
        calls = [
            Call(
                "refund",
                {
                    "external_payment_id": payment_id,
                    "amount": _money(refund, "amount", currency),
                    "refund_id": refund["id"],
                },
            )
            for refund in listed
            if isinstance(refund, dict) and _id(refund.get("id")) and refund.get("status") not in ("failed", "canceled")
        ]
        return Plan(calls) if calls else Plan(ignored="no refund of this charge succeeded")
    total = _money(charge, "amount_refunded", currency)
    before = _metadata(_metadata(event.get("data")).get("previous_attributes"))
    earlier = _money(before, "amount_refunded", currency) if "amount_refunded" in before else 0
    if total <= earlier:
        return Plan(ignored="nothing newly refunded")
    refund_id = f"{charge['id']}:refunded:{charge['amount_refunded']}"
    return Plan(
        [Call("refund", {"external_payment_id": payment_id, "amount": total - earlier, "refund_id": refund_id})]
    )


def _dispute(event: dict) -> Plan:
    dispute = _object(event)
    if not _id(dispute.get("id")):
        raise PayloadError("the dispute has no id", {"id": "is required"})
    payment_id = _id(dispute.get("payment_intent")) or _id(dispute.get("charge"))
    if not payment_id:
        raise PayloadError("the dispute names no payment", {"payment_intent": "is required"})
    amount = _money(dispute, "amount", _currency(dispute))
    return Plan([Call("chargeback", {"external_payment_id": payment_id, "amount": amount, "refund_id": dispute["id"]})])


def _trial(event: dict) -> Plan:
    subscription = _object(event)
    if subscription.get("status") != "trialing":
        return Plan(ignored="the subscription starts without a trial; its first invoice is the sale")
    body = {
        "click_id": _metadata(subscription.get("metadata")).get("click_id") or None,
        "user_ref": _id(subscription.get("customer")),
        "event": "trial",
    }
    return Plan([Call("conversion", {name: value for name, value in body.items() if value is not None})])


def translate(event: dict) -> Plan:
    kind = event.get("type") if isinstance(event, dict) else None
    if kind in INVOICE_EVENTS:
        return _invoice(event)
    if kind == "charge.refunded":
        return _refunds(event)
    if kind == "charge.dispute.created":
        return _dispute(event)
    if kind == "customer.subscription.created":
        return _trial(event)
    return Plan(ignored=f"event type {kind!r} is not one affnet uses")
