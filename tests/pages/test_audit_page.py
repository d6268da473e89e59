"""The audit page: each role reads what is theirs; a change made on a page names its account and address;
no secret is ever on the page."""

from affnet.core.deliveries import setting_versions
from affnet.core.network import accounts, audit
from affnet.core.network.offer_secrets import set_offer_secret
from affnet.core.storage.models import AuditEntry
from tests import sample_plugin

from .conftest import log_in, post_form


def test_a_change_made_on_a_page_names_the_account_and_its_address(browser, people):
    log_in(browser, "aff@example.com")
    post_form(browser, "/tokens", {"name": "keitaro"})
    entry = AuditEntry.get(AuditEntry.action == "token.create")
    assert (entry.actor_id, entry.actor_label, entry.ip) == (people["affiliate"].id, "aff@example.com", "127.0.0.1")
    page = browser.get("/audit").get_data(as_text=True)
    assert "token.create" in page and "keitaro" in page


def test_an_affiliate_reads_their_history_and_not_the_operators_address(browser, people, affnet_network):
    with audit.acting(audit.Actor(user=people["admin"], ip="10.9.8.7")):
        accounts.set_participation_status(affnet_network.participation, "paused", note="traffic check")
    accounts.edit_offer(affnet_network.offer, hold_days=9)
    log_in(browser, "aff@example.com")
    page = browser.get("/audit").get_data(as_text=True)
    assert "traffic check" in page and "the network" in page
    assert "10.9.8.7" not in page and "root@example.com" not in page
    assert "hold_days" not in page, "an offer's own changes are its owner's"


def test_an_owner_reads_their_offers_entries_and_not_another_owners(browser, people, affnet_network):
    rival, _ = accounts.create_user("rival@example.com", "advertiser")
    rival_offer, _ = accounts.create_offer(rival, "Rival", "https://rival.example/")
    accounts.edit_offer(rival_offer, landing_url="https://rival.example/secret-launch")
    accounts.edit_offer(affnet_network.offer, hold_days=11)
    log_in(browser, "owner@example.com")
    page = browser.get("/audit").get_data(as_text=True)
    assert "hold_days" in page and "secret-launch" not in page
    assert browser.get("/audit?offer=rival").status_code == 404
    assert "hold_days" in browser.get("/audit?offer=susurra&kind=offer").get_data(as_text=True)


def test_the_operator_reads_every_entry_with_its_address(browser, people, affnet_network):
    with audit.acting(audit.Actor(user=affnet_network.advertiser, ip="198.51.100.4")):
        accounts.edit_offer(affnet_network.offer, hold_days=12)
    log_in(browser, "root@example.com")
    page = browser.get("/audit?kind=offer").get_data(as_text=True)
    assert "198.51.100.4" in page and "owner@example.com" in page


def test_no_secret_is_on_the_audit_page_after_saving(browser, people, affnet_network):
    sample_plugin.reset()
    set_offer_secret(affnet_network.offer, "stripe.signing_secret", "whsec_never_on_a_page")
    setting_versions.save(
        sample_plugin.KIND, people["affiliate"], {"url": "https://t.example/p", "token": "tok-never-on-a-page"}
    )
    for email in ("root@example.com", "owner@example.com", "aff@example.com"):
        log_in(browser, email)
        page = browser.get("/audit").get_data(as_text=True)
        assert "whsec_never_on_a_page" not in page and "tok-never-on-a-page" not in page
        browser.post("/logout", data={"csrf_token": _token(browser)})


def _token(browser):
    import re

    return re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/account").get_data(as_text=True)).group(1)


def test_older_entries_are_a_page_further(browser, people, affnet_network):
    for days in range(1, 106):
        accounts.edit_offer(affnet_network.offer, hold_days=days)
    log_in(browser, "root@example.com")
    first = browser.get("/audit?kind=offer").get_data(as_text=True)
    assert "Older entries" in first
    older = AuditEntry.select().where(AuditEntry.action == "offer.edit").order_by(AuditEntry.id).first()
    link = first.split('href="/audit?', 2)[-1].split('"')[0].replace("&amp;", "&")
    assert "before=" in link
    second = browser.get("/audit?" + link).get_data(as_text=True)
    assert f"<ins>{older.changes['hold_days']['new']}</ins>" in second
