"""Every ad platform's click id (``tracking.AD_CLICK_IDS``) survives ``/r``:
stored compactly, handed to plugins on the click, shown by the stats API and
the report where a sub id would be."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from affnet.core.network import api_tokens
from affnet.core.clicks import tracking
from affnet.core.storage.models import Click
from affnet.core.reports import EXPORT_COLUMNS
from affnet.testing import click, click_id_of, ingest, load_clicks, sale_body
from tests import sample_plugin

# A value per click id, as long as such ids get (Google's are about 100 characters).
VALUES = {name: f"{name}-{'Ab0_-' * 18}{n}" for n, name in enumerate(tracking.AD_CLICK_IDS)}


@pytest.fixture
def affnet_plugins():
    sample_plugin.reset()
    return [sample_plugin]


def _sale(affnet_app, affnet_client, affnet_network, name, payment):
    click_id = click_id_of(click(affnet_app.test_client(), affnet_network.ref, s1="ad-1", **{name: VALUES[name]}))
    response = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id, payment=payment))
    assert response.status_code == 201, response.get_data(as_text=True)
    return click_id


def test_the_list_names_every_major_ad_platform():
    for name in ("gclid", "gbraid", "wbraid", "msclkid", "ttclid", "twclid", "li_fat_id", "ScCid", "rdt_cid", "epik"):
        assert name in tracking.AD_CLICK_IDS


@pytest.mark.parametrize("name", list(tracking.AD_CLICK_IDS))
def test_a_click_id_of_each_ad_platform_reaches_the_plugin_the_stats_api_and_the_report(
    affnet_app, affnet_client, affnet_network, name
):
    click_id = _sale(affnet_app, affnet_client, affnet_network, name, "pi_" + name)

    seen = [event.click for event in sample_plugin.recorded_events if event.click and event.click.click_id == click_id]
    assert seen and seen[0].ad_click_ids == {name: VALUES[name]}
    assert seen[0].subs["sub1"] == "ad-1"

    _, token = api_tokens.create_token(affnet_network.affiliate, "tracker")
    as_csv = affnet_client.get("/api/affiliate/stats-api", query_string={"token": token})
    [row] = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert row[name] == VALUES[name]
    assert {other: row[other] for other in tracking.AD_CLICK_IDS if other != name} == {
        other: "" for other in tracking.AD_CLICK_IDS if other != name
    }
    [as_json] = affnet_client.get(
        "/api/affiliate/stats-api", query_string={"token": token, "format": "json"}
    ).get_json()
    assert as_json[name] == VALUES[name] and as_json["fbclid"] is None

    today = datetime.now(UTC).date()
    report = affnet_client.get(
        "/api/affiliate/report",
        query_string={
            "token": token,
            "group_by": name,
            "from": today - timedelta(days=1),
            "to": today + timedelta(days=1),
            "format": "json",
        },
    )
    assert report.status_code == 200, report.get_data(as_text=True)
    rows = {row["key"]: row for row in report.get_json()["rows"]}
    assert rows[VALUES[name]]["clicks"] == 1 and rows[VALUES[name]]["sales"] == 1


def test_the_stats_api_has_a_column_for_each_click_id_after_the_sub_ids():
    after_subs = EXPORT_COLUMNS[EXPORT_COLUMNS.index("sub10") + 1 : EXPORT_COLUMNS.index("event")]
    assert after_subs == ("fbclid", *tracking.AD_CLICK_IDS)


def test_a_click_without_ad_click_ids_stores_nothing_for_them(affnet_app, affnet_client, affnet_network):
    click_id = click_id_of(click(affnet_client, affnet_network.ref, s1="plain", utm_source="x"))
    load_clicks(affnet_app)
    assert Click.get(Click.click_id == click_id).ad_click_ids is None


def test_click_ids_are_stored_together_as_one_compact_object(affnet_app, affnet_client, affnet_network):
    click_id = click_id_of(
        click(
            affnet_client,
            affnet_network.ref,
            ttclid="E.C.P.tt1",
            gclid="Cj0K",
            epik="dj0y",
            utm_source="not-a-click-id",
        )
    )
    load_clicks(affnet_app)
    stored = Click.get(Click.click_id == click_id).ad_click_ids
    assert stored == '{"gclid":"Cj0K","ttclid":"E.C.P.tt1","epik":"dj0y"}'


def test_a_long_click_id_is_cut_to_255_characters_as_sub_ids_are(affnet_app, affnet_client, affnet_network):
    click_id = click_id_of(click(affnet_client, affnet_network.ref, gclid="g" * 5000, s2="s" * 5000))
    load_clicks(affnet_app)
    row = Click.get(Click.click_id == click_id)
    assert json.loads(row.ad_click_ids) == {"gclid": "g" * 255}
    assert row.s2 == "s" * 255


def test_an_empty_click_id_or_one_of_nul_only_is_not_stored(affnet_app, affnet_client, affnet_network):
    click_id = click_id_of(click(affnet_client, affnet_network.ref, gclid="", ttclid="\x00", msclkid="m\x001"))
    load_clicks(affnet_app)
    assert json.loads(Click.get(Click.click_id == click_id).ad_click_ids) == {"msclkid": "m1"}


def test_click_id_names_are_matched_as_the_platforms_spell_them(affnet_app, affnet_client, affnet_network):
    click_id = click_id_of(click(affnet_client, affnet_network.ref, ScCid="snap-1", GCLID="upper"))
    load_clicks(affnet_app)
    assert json.loads(Click.get(Click.click_id == click_id).ad_click_ids) == {"ScCid": "snap-1"}
