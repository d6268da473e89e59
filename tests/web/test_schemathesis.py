"""Schemathesis against the live app: under gunicorn, on PostgreSQL, with the
Stripe plugin enabled, every operation of ``/api/openapi.json`` is called
with generated input (valid and invalid), with a real offer key, stats token
and Stripe signing secret so that calls go past authentication. No answer
may be a server error, every answer (status, content type, body, headers)
must be one the document describes, and a method it does not name answers
405 with Allow.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from affnet.core.network import accounts, api_tokens
from affnet.core.network.offer_secrets import set_offer_secret
from affnet.core.storage.db import db
from affnet.core.storage.secrets import keyring
from affnet.instance import init_instance
from affnet.testing import click_id_of

from ..processes import Processes, wait_until_healthy

pytestmark = pytest.mark.slow

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "unsupported_method",
)
MAX_EXAMPLES = 25
RUN_SECONDS = 60
STRIPE_SECRET = "whsec_fuzzing_0123456789abcdef"


def make_network(instance):
    """An owner's offer with its key and Stripe secret, an approved affiliate with a stats token."""
    keyring.load(instance)
    owner, _ = accounts.create_user("owner@example.com", "advertiser")
    offer, key = accounts.create_offer(
        owner, "Susurra", "https://susurra.example/start", currency="USD", rules=[accounts.RuleSpec.parse("sale=30%")]
    )
    set_offer_secret(offer, "stripe_webhook_secret", STRIPE_SECRET)
    affiliate, _ = accounts.create_user("aff@example.com", "affiliate")
    participation = accounts.apply(affiliate, offer)
    accounts.set_participation_status(participation, "approved")
    _, token = api_tokens.create_token(affiliate, "tracker")
    return offer.slug, key, token, participation.ref_code


def some_events(server, key, ref):
    """A click and a sale of it, so the stats API has a row to answer."""
    click = requests.get(f"{server}/r", params={"ref": ref}, allow_redirects=False, timeout=10)
    sale = {"event": "sale", "click_id": click_id_of(click), "external_payment_id": "pay_1", "gross_amount": "10.00"}
    answer = requests.post(f"{server}/api/ingest/conversion", json=sale, headers={"X-Offer-Key": key}, timeout=10)
    assert answer.status_code == 201, answer.text


def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_document(schema_url, tmp_path):
    instance = tmp_path / "instance"
    init_instance(instance)
    with db.connection_context():
        slug, key, token, ref = make_network(instance)
    env = {name: value for name, value in os.environ.items() if not name.startswith("AFFNET_")}
    env.update(
        AFFNET_DATABASE_URL=schema_url,
        AFFNET_INSTANCE_PATH=str(instance),
        AFFNET_PLUGINS_ENABLED="stripe_ingest",
        AFFNET_INGEST_RATE_LIMIT="100000 per minute",
        AFFNET_STATS_API_RATE_LIMIT="100000 per minute",
        AFFNET_LOG_LEVEL="WARNING",
    )
    processes = Processes(tmp_path)
    answers = tmp_path / "answers.txt"
    try:
        server = processes.start_gunicorn("web", env)
        wait_until_healthy([server])
        some_events(server, key, ref)
        fuzz_env = dict(
            env,
            SCHEMATHESIS_HOOKS="tests.web.schemathesis_hooks",
            PYTHONPATH=str(Path(__file__).resolve().parents[2]),
            AFFNET_FUZZ_STRIPE_SLUG=slug,
            AFFNET_FUZZ_STRIPE_SECRET=STRIPE_SECRET,
            AFFNET_FUZZ_REF=ref,
            AFFNET_FUZZ_ANSWERS=str(answers),
            NO_COLOR="1",
        )
        run = subprocess.run(
            [
                str(Path(sys.executable).with_name("schemathesis")),
                "run",
                f"{server}/api/openapi.json",
                "--url",
                server,
                "--checks",
                ",".join(CHECKS),
                "--header",
                f"X-Offer-Key: {key}",
                "--header",
                f"Authorization: Bearer {token}",
                "--max-examples",
                str(MAX_EXAMPLES),
                "--max-time",
                str(RUN_SECONDS - 15),
                "--request-timeout",
                "10",
                "--workers",
                "1",  # Python 3.11's ast is not thread-safe: Hypothesis's lambda descriptions break in threads
                "--no-shrink",
            ],
            env=fuzz_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=RUN_SECONDS + 30,
        )
    finally:
        processes.stop_all()
    report = run.stdout[-20000:] + run.stderr[-5000:]
    assert run.returncode == 0, f"schemathesis found faults:\n{report}\n{processes.logs()}"
    seen = set(answers.read_text().splitlines())
    assert "GET /r 302" in seen and "GET /r 404" in seen, f"/r was not called with and without a real ref: {seen}"
    stripe = {line.rsplit(" ", 1)[1] for line in seen if line.startswith("POST /hooks/stripe/")}
    assert stripe - {"400", "404"}, f"no signed Stripe call got past the signature: {stripe}"
