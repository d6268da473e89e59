"""Idempotency under concurrency, and "never 500 for any input"."""

import json
import threading

from hypothesis import HealthCheck, given, settings, strategies as st

from affnet.core.storage.models import Event, LedgerEntry
from affnet.testing import click, click_id_of, ingest, sale_body


def test_identical_requests_racing_on_several_threads_make_one_event(affnet_app, affnet_client, affnet_network):
    click_id = click_id_of(click(affnet_client, affnet_network.ref))
    threads, statuses, barrier = [], [], threading.Barrier(8)

    def post():
        client = affnet_app.test_client()
        barrier.wait()
        statuses.append(ingest(client, affnet_network, "conversion", sale_body(click_id)).status_code)

    for _ in range(8):
        threads.append(threading.Thread(target=post))
        threads[-1].start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 7 + [201]
    assert Event.select().count() == 1 and LedgerEntry.select().count() == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=12,
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "click_id": json_values,
            "user_ref": json_values,
            "external_payment_id": json_values,
            "gross_amount": json_values | st.decimals(allow_nan=False, allow_infinity=False).map(str),
            "currency": json_values | st.sampled_from(["USD", "usd", "JPY", "XX"]),
            "is_first_payment": json_values,
            "amount": json_values,
            "refund_id": json_values,
            "event": json_values | st.sampled_from(["lead", "trial", "sale", "rebill"]),
        },
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, call=st.sampled_from(["conversion", "refund", "chargeback"]))
def test_no_input_ever_answers_500(affnet_client, affnet_network, body, call):
    response = affnet_client.post(
        f"/api/ingest/{call}",
        data=json.dumps(body),
        content_type="application/json",
        headers={"X-Offer-Key": affnet_network.offer_key},
    )
    assert response.status_code in (200, 201, 202, 422), response.get_data(as_text=True)
    if response.status_code == 422:
        assert response.get_json()["error"]
