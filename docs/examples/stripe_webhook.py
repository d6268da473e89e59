"""Report your Stripe payments to the affiliate network from the Stripe webhook you already have.

Set AFFNET_OFFER_KEY to your offer key (shown once, when the offer was made). Once
stripe.Webhook.construct_event has verified the request's body, and your own handling is done, call
    answer = report_to_network(json.loads(body), requests.post)
If it raises, or answer.status_code is 429 or 500 and up, the network did not take the event: answer Stripe
with an error, and Stripe sends the event again later (a repeat counts once). Other events give None.
It reads invoices of every Stripe API version (before 2025-03-31 and after), keeps Stripe's zero- and
three-decimal currencies exact, and sends the ids the network's own Stripe webhook uses, so a payment
reported both ways counts once.
"""

import os
from decimal import Decimal

NETWORK_URL, HEADERS = "https://NETWORK", {"X-Offer-Key": os.environ["AFFNET_OFFER_KEY"]}  # the key of <offer>
ZERO, THREE = "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf", "bhd jod kwd omr tnd"


def report_to_network(event: dict, post):  # post: requests.post (or httpx.post)
    kind, o, reason = event["type"], event["data"]["object"], str(event["data"]["object"].get("billing_reason"))
    money = lambda n: str(Decimal(n).scaleb(0 if o["currency"] in ZERO else -3 if o["currency"] in THREE else -2))
    send = lambda call, **body: post(f"{NETWORK_URL}/api/ingest/{call}", json=body, headers=HEADERS, timeout=10)
    if kind in ("invoice.paid", "invoice.payment_succeeded") and o["amount_paid"] and reason.startswith("subscription"):
        paid = {p["status"]: p["payment"].get("payment_intent") for p in o.get("payments", {}).get("data", [])}
        return send("conversion", user_ref=o["customer"], event="sale" if reason == "subscription_create" else "rebill",
            click_id=(o.get("parent") or o)["subscription_details"]["metadata"].get("click_id"), currency=o["currency"],
            external_payment_id=o.get("payment_intent") or paid.get("paid") or o["id"], gross_amount=money(o["amount_paid"]))
    if kind == "charge.refunded":
        return send("refund", external_payment_id=o["payment_intent"], refund_id=f"{o['id']}:refunded:{o['amount_refunded']}",
            amount=money(o["amount_refunded"] - event["data"].get("previous_attributes", {}).get("amount_refunded", 0)))
    if kind == "charge.dispute.created":
        return send("chargeback", external_payment_id=o["payment_intent"], amount=money(o["amount"]), refund_id=o["id"])
