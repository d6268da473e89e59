"""SPEC section 7: stats API tokens (made in the affiliate's settings, shown
once, stored hashed, revocable, last-used time shown)."""

from datetime import timedelta

import pytest

from affnet.core.network import accounts, api_tokens
from affnet.core.storage.models import ALL_MODELS, ApiToken


def _every_stored_value():
    for model in ALL_MODELS:
        for row in model.select().tuples():
            yield from (str(value) for value in row)


def test_token_is_shown_once_and_only_its_hash_is_stored(affnet_network):
    row, token = api_tokens.create_token(affnet_network.affiliate, "Keitaro")
    assert token.startswith("st_") and len(token) >= 32
    assert all(token not in value for value in _every_stored_value()), "the token is nowhere in the database"
    assert row.hint == "…" + token[-4:]
    listed = api_tokens.list_tokens(affnet_network.affiliate)
    assert [(t.name, t.hint) for t in listed] == [("Keitaro", row.hint)]
    assert not any(hasattr(t, "token") for t in listed), "a listed token cannot be read back"


def test_a_token_authenticates_its_affiliate(affnet_network):
    _, token = api_tokens.create_token(affnet_network.affiliate, "Keitaro")
    assert api_tokens.authenticate(token).affiliate_id == affnet_network.affiliate.id
    assert api_tokens.authenticate(token + "x") is None
    assert api_tokens.authenticate("") is None and api_tokens.authenticate(None) is None


def test_an_affiliate_may_hold_several_named_tokens(affnet_network):
    _, first = api_tokens.create_token(affnet_network.affiliate, "Keitaro")
    _, second = api_tokens.create_token(affnet_network.affiliate, "Binom")
    assert first != second
    assert {t.name for t in api_tokens.list_tokens(affnet_network.affiliate)} == {"Keitaro", "Binom"}
    assert api_tokens.authenticate(first) and api_tokens.authenticate(second)


def test_a_revoked_token_stops_working_at_once_and_the_others_keep_working(affnet_network):
    row, token = api_tokens.create_token(affnet_network.affiliate, "Keitaro")
    _, other = api_tokens.create_token(affnet_network.affiliate, "Binom")
    api_tokens.revoke_token(row.id, affnet_network.affiliate)
    assert api_tokens.authenticate(token) is None
    assert api_tokens.authenticate(other) is not None
    assert ApiToken.get_by_id(row.id).revoked_at is not None, "revoked tokens stay listed with their time"


def test_an_affiliate_cannot_revoke_another_affiliates_token(affnet_network):
    row, token = api_tokens.create_token(affnet_network.affiliate, "Keitaro")
    other = affnet_network.add_affiliate("other@example.com").affiliate
    with pytest.raises(api_tokens.TokenError):
        api_tokens.revoke_token(row.id, other)
    assert api_tokens.authenticate(token) is not None


def test_last_used_time_is_recorded_at_most_once_a_minute(affnet_network, affnet_clock):
    row, token = api_tokens.create_token(affnet_network.affiliate, "Keitaro")
    assert row.last_used_at is None
    first_use = affnet_clock.now
    api_tokens.authenticate(token)
    assert ApiToken.get_by_id(row.id).last_used_at == first_use
    affnet_clock.advance(seconds=30)
    api_tokens.authenticate(token)
    assert ApiToken.get_by_id(row.id).last_used_at == first_use, "a read 30 s later writes nothing"
    affnet_clock.advance(seconds=31)
    api_tokens.authenticate(token)
    assert ApiToken.get_by_id(row.id).last_used_at == first_use + timedelta(seconds=61)


def test_a_deactivated_affiliates_tokens_stop_working(affnet_network):
    _, token = api_tokens.create_token(affnet_network.affiliate, "Keitaro")
    affnet_network.affiliate.is_active = False
    affnet_network.affiliate.save()
    assert api_tokens.authenticate(token) is None


@pytest.mark.parametrize("name, why", [("", "needs a name"), ("x" * 101, "at most 100")])
def test_a_token_needs_a_short_name(affnet_network, name, why):
    with pytest.raises(api_tokens.TokenError, match=why):
        api_tokens.create_token(affnet_network.affiliate, name)
    assert ApiToken.select().count() == 0


def test_two_live_tokens_cannot_share_a_name_but_a_revoked_name_can_be_reused(affnet_network):
    row, _ = api_tokens.create_token(affnet_network.affiliate, "Keitaro")
    with pytest.raises(api_tokens.TokenError, match="exists already"):
        api_tokens.create_token(affnet_network.affiliate, "Keitaro")
    api_tokens.revoke_token(row.id)
    api_tokens.create_token(affnet_network.affiliate, "Keitaro")


def test_only_affiliates_get_stats_tokens(affnet_network):
    with pytest.raises(api_tokens.TokenError, match="for affiliates"):
        api_tokens.create_token(affnet_network.advertiser, "mine")
    admin, _ = accounts.create_user("root@example.com", "admin")
    with pytest.raises(api_tokens.TokenError):
        api_tokens.create_token(admin, "mine")
    assert ApiToken.select().count() == 0
