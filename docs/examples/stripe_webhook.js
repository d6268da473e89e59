// Report your Stripe payments to the affiliate network from the Stripe webhook you already have
// (Node 18 or later: it uses the global fetch).
//
// Set AFFNET_OFFER_KEY to your offer key (shown once, when the offer was made). Once
// stripe.webhooks.constructEvent has verified the event, and your own handling is done, call
//     const answer = await reportToNetwork(event);
// If it throws, or answer.status is 429 or 500 and up, the network did not take the event: answer Stripe
// with an error, and Stripe sends the event again later (a repeat counts once). Other events give
// undefined. It reads invoices of every Stripe API version (before 2025-03-31 and after), keeps
// Stripe's zero- and three-decimal currencies exact, and sends the ids the network's own Stripe
// webhook uses, so a payment reported both ways counts once. Amounts go as JSON numbers: n / 100 is
// written as the exact decimal (2990 as 29.9) for any amount below 10^13, far above one payment.
const NETWORK_URL = "https://NETWORK", OFFER_KEY = process.env.AFFNET_OFFER_KEY; // the key of <offer>
const ZERO = "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf", THREE = "bhd jod kwd omr tnd";

async function reportToNetwork(event) {
  const o = event.data.object, reason = o.billing_reason ?? "", was = event.data.previous_attributes ?? {};
  const money = (n) => n / (ZERO.includes(o.currency) ? 1 : THREE.includes(o.currency) ? 1000 : 100);
  const send = (call, body) => fetch(`${NETWORK_URL}/api/ingest/${call}`, { method: "POST", body: JSON.stringify(body),
    headers: { "Content-Type": "application/json", "X-Offer-Key": OFFER_KEY } });
  if (/^invoice\.(paid|payment_succeeded)$/.test(event.type) && o.amount_paid > 0 && reason.startsWith("subscription")) {
    const paid = o.payments?.data.find((p) => p.status === "paid")?.payment.payment_intent; // API 2025-03-31 on
    return send("conversion", { user_ref: o.customer, event: reason === "subscription_create" ? "sale" : "rebill",
      click_id: (o.parent ?? o).subscription_details?.metadata.click_id, currency: o.currency,
      external_payment_id: o.payment_intent ?? paid ?? o.id, gross_amount: money(o.amount_paid) });
  }
  if (event.type === "charge.refunded") return send("refund", { external_payment_id: o.payment_intent,
    amount: money(o.amount_refunded - (was.amount_refunded ?? 0)), refund_id: `${o.id}:refunded:${o.amount_refunded}` });
  if (event.type === "charge.dispute.created") return send("chargeback", { external_payment_id: o.payment_intent,
    amount: money(o.amount), refund_id: o.id });
}
