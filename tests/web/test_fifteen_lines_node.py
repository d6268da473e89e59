"""Way 1: the Node version of the product owner's short integration
(``docs/examples/stripe_webhook.js``), run by ``node`` (Node 18 or later:
it uses the global ``fetch``; Debian's ``nodejs`` package) against the app
served on loopback, with the same real-shaped Stripe events of both invoice
shapes as the Python version. The network's address is filled in as the
offer's Stripe page fills it; the offer key comes from ``AFFNET_OFFER_KEY``.
Without node the test is skipped, and under CI it fails."""

import json
import os
import shutil
import subprocess
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from affnet.core.storage.models import Event, LedgerEntry
from affnet.testing import click, click_id_of, free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "stripe_webhook.js"
EVENTS = ROOT / "plugins" / "stripe_ingest" / "tests" / "fixtures"
ACACIA_PI, CYCLE_PI, BASIL_PI, YEN_PI = (
    "pi_3Q8xKnLkdIwHu7ix0n9mP8qR",
    "pi_3QVc2ALkdIwHu7ix1pO9i8u7",
    "pi_3RIb7vLkdIwHu7ix2q3w4e5r",
    "pi_3RJp3iLkdIwHu7ixJpY0pi01",
)

# Loads the example as a script (as pasted into a webhook's file), then reports each event in turn and
# prints, for each, null (not reported) or the network's answer.
HARNESS = r"""
const fs = require("fs"), vm = require("vm");
vm.runInThisContext(fs.readFileSync(process.argv[2], "utf8"), { filename: "stripe_webhook.js" });
(async () => {
  const answers = [];
  for (const event of JSON.parse(fs.readFileSync(process.argv[3], "utf8"))) {
    const response = await reportToNetwork(event);
    answers.push(response ? { path: new URL(response.url).pathname, status: response.status, body: await response.json() } : null);
  }
  console.log(JSON.stringify(answers));
})().catch((error) => { console.error(error); process.exit(1); });
"""


@pytest.fixture
def node() -> str:
    found = shutil.which("node")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("node is needed to run the Node integration (apt-get install nodejs)")
        pytest.skip("no node: apt-get install nodejs")
    return found


@pytest.fixture
def server(affnet_app):
    live = make_server("127.0.0.1", free_port(), affnet_app, threaded=True)
    thread = threading.Thread(target=live.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{live.server_port}"
    live.shutdown()
    thread.join(timeout=10)


def stripe_event(name: str, click_id: str = "", **changes) -> dict:
    event = json.loads((EVENTS / f"{name}.json").read_text().replace("{{click_id}}", click_id))
    event.update(changes)
    return event


def run_example(node: str, server: str, offer_key: str, events: list, tmp_path) -> list:
    """What ``reportToNetwork`` answered for each event, with the example filled in as the offer's page shows it."""
    (tmp_path / "stripe_webhook.js").write_text(EXAMPLE.read_text().replace("https://NETWORK", server))
    (tmp_path / "harness.js").write_text(HARNESS)
    (tmp_path / "events.json").write_text(json.dumps(events))
    done = subprocess.run(
        [node, "harness.js", "stripe_webhook.js", "events.json"],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "AFFNET_OFFER_KEY": offer_key},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_node_lines_report_both_invoice_shapes_refunds_a_dispute_and_yen_as_the_ingest_api_books_them(
    node, server, affnet_client, affnet_network, tmp_path
):
    click_id = click_id_of(click(affnet_client, affnet_network.ref))
    dispute = stripe_event("charge_dispute_created")
    dispute["data"]["object"]["payment_intent"] = CYCLE_PI
    events = [
        stripe_event("invoice_payment_succeeded_acacia_subscription_create", click_id),
        stripe_event("invoice_payment_succeeded_acacia_subscription_create", click_id),
        stripe_event("invoice_payment_succeeded_acacia_subscription_create", click_id, type="invoice.paid"),
        stripe_event("invoice_payment_succeeded_acacia_subscription_cycle", click_id),
        stripe_event("invoice_paid_basil_subscription_create", click_id),
        stripe_event("charge_refunded_basil_partial"),
        stripe_event("charge_refunded_basil_full"),
        stripe_event("invoice_paid_basil_jpy", click_id),
        dispute,
        stripe_event("customer_created"),
        stripe_event("customer_subscription_created_trialing", click_id),
    ]
    answers = run_example(node, server, affnet_network.offer_key, events, tmp_path)
    assert [(a["path"], a["status"], a["body"]["event"], a["body"]["payout"]) if a else None for a in answers] == [
        ("/api/ingest/conversion", 201, "sale", "8.70"),
        ("/api/ingest/conversion", 200, "sale", "8.70"),
        ("/api/ingest/conversion", 200, "sale", "8.70"),
        ("/api/ingest/conversion", 201, "rebill", "5.80"),
        ("/api/ingest/conversion", 201, "sale", "8.70"),
        ("/api/ingest/refund", 201, "refund", "-3.00"),
        ("/api/ingest/refund", 201, "refund", "-5.70"),
        ("/api/ingest/conversion", 201, "sale", "1440"),
        ("/api/ingest/chargeback", 201, "chargeback", "-5.80"),
        None,
        None,
    ]
    assert [answer["body"]["duplicate"] for answer in answers[:3]] == [False, True, True]
    stored = [
        (e.kind, e.external_payment_id, e.gross_amount, e.currency, e.payout, e.attributed)
        for e in Event.select().order_by(Event.id)
    ]
    assert stored == [
        ("sale", ACACIA_PI, Decimal("29.00"), "USD", Decimal("8.70"), True),
        ("rebill", CYCLE_PI, Decimal("29.00"), "USD", Decimal("5.80"), True),
        ("sale", BASIL_PI, Decimal("29.00"), "USD", Decimal("8.70"), True),
        ("refund", BASIL_PI, Decimal("10.00"), "USD", Decimal("-3.00"), True),
        ("refund", BASIL_PI, Decimal("19.00"), "USD", Decimal("-5.70"), True),
        ("sale", YEN_PI, Decimal("4800"), "JPY", Decimal("1440"), True),
        ("chargeback", CYCLE_PI, Decimal("29.00"), "USD", Decimal("-5.80"), True),
    ]
    balances = {}
    for entry in LedgerEntry.select().where(LedgerEntry.affiliate == affnet_network.affiliate.id):
        balances[entry.currency] = balances.get(entry.currency, Decimal(0)) + entry.amount
    assert balances == {"USD": Decimal("8.70"), "JPY": Decimal("1440")}
