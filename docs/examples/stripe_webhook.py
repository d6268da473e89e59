"""Way 1 for product owners: about 15 lines in your own Stripe webhook that
report payments to the network's ingest API (see docs/product-owners.md).

Call ``report_to_network(event, NETWORK_URL, OFFER_KEY)`` after your webhook
has verified the event with ``stripe.Webhook.construct_event``. The ids and
keys are the ones the network's own Stripe plugin uses, so a payment reported
both ways counts once.
"""
from decimal import Decimal

import requests

ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf",
                "xof", "xpf"}


def report_to_network(event: dict, network_url: str, offer_key: str, http=requests):
    obj, headers = event["data"]["object"], {"X-Offer-Key": offer_key}
    major = lambda minor: str(Decimal(minor).scaleb(0 if obj["currency"] in ZERO_DECIMAL else -2))  # noqa: E731
    if event["type"] == "invoice.payment_succeeded":
        sub = (obj.get("parent") or {}).get("subscription_details") or obj.get("subscription_details") or {}
        paid = [p["payment"].get("payment_intent") for p in (obj.get("payments") or {}).get("data", [])
                if p.get("status") == "paid"]
        first = obj["billing_reason"] == "subscription_create"
        return http.post(network_url + "/api/ingest/conversion", headers=headers, timeout=10, json={
            "click_id": (sub.get("metadata") or {}).get("click_id"), "user_ref": obj["customer"],
            "event": "sale" if first else "rebill", "is_first_payment": first,
            "external_payment_id": obj.get("payment_intent") or (paid + [obj["id"]])[0],  # idempotency
            "gross_amount": major(obj["amount_paid"]), "currency": obj["currency"].upper()})
    if event["type"] == "charge.refunded":
        before = event["data"].get("previous_attributes", {}).get("amount_refunded", 0)
        return http.post(network_url + "/api/ingest/refund", headers=headers, timeout=10, json={
            "external_payment_id": obj["payment_intent"], "amount": major(obj["amount_refunded"] - before),
            "refund_id": f"{obj['id']}:refunded:{obj['amount_refunded']}"})
    if event["type"] == "charge.dispute.created":
        return http.post(network_url + "/api/ingest/chargeback", headers=headers, timeout=10, json={
            "external_payment_id": obj["payment_intent"], "amount": major(obj["amount"]), "refund_id": obj["id"]})
    return None
