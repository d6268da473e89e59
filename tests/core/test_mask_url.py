"""One way to show a URL an affiliate typed: ``mask_url`` hides a password in the address and secret-looking
query values; ``unmask_url`` puts the saved secrets back where a form sent the masked URL back unchanged."""

import pytest

from affnet.core.storage.secrets import mask_url, unmask_url

SAVED = "https://kt:pa55-w0rd@tracker.example/pb?subid={clickid}&api_key=k3y-0042&status={status}"


@pytest.mark.parametrize(
    "url, shown",
    [
        (SAVED, "https://kt:***@tracker.example/pb?subid={clickid}&api_key=***&status={status}"),
        (
            "https://t.example/p?token=abc&Signature=x&pass=y&s=1",
            "https://t.example/p?token=***&Signature=***&pass=***&s=1",
        ),
        ("https://t.example/p?subid=a%20b&status=sale", "https://t.example/p?subid=a%20b&status=sale"),
        ("https://st_t0ken@t.example/p", "https://***@t.example/p"),
        (
            "https://t.example/p?q=a+b%26c&api%5Fkey=k&s={status}",
            "https://t.example/p?q=a+b%26c&api%5Fkey=***&s={status}",
        ),
    ],
)
def test_mask_url_hides_the_password_and_secret_looking_query_values(url, shown):
    assert mask_url(url) == shown


def test_an_unreadable_url_is_never_shown_as_it_is():
    assert mask_url("https://kt:pa55@[::1/p?key=1") == "(an unreadable URL)"


def test_a_masked_url_sent_back_unchanged_keeps_the_saved_secrets():
    assert unmask_url(mask_url(SAVED), SAVED) == SAVED


def test_a_masked_url_with_another_part_changed_keeps_the_secrets_and_the_change():
    edited = mask_url(SAVED).replace("/pb?", "/v2?")
    assert unmask_url(edited, SAVED) == SAVED.replace("/pb?", "/v2?")


def test_a_secret_typed_in_place_of_the_mask_is_kept_as_typed():
    typed = mask_url(SAVED).replace("api_key=***", "api_key=new-k3y")
    assert unmask_url(typed, SAVED) == SAVED.replace("k3y-0042", "new-k3y")


def test_a_masked_user_part_gets_the_saved_one_back():
    saved = "https://st_t0ken@t.example/p?s={status}"
    assert unmask_url(mask_url(saved), saved) == saved


def test_a_mask_never_takes_the_password_of_another_user():
    assert unmask_url("https://other:***@tracker.example/pb", SAVED) == "https://other:***@tracker.example/pb"
