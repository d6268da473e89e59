"""What an affiliate fills in for Wise: a name and exactly one of an IBAN
(its checksum verified) or an email address; and how it reads in the books."""

import pytest

from affnet_payout_wise.recipient import destination, validate
from wise_cases import EMAIL_DETAILS, IBAN_DETAILS

GOOD_IBANS = ["DE89370400440532013000", "gb82 west 1234 5698 7654 32", "FR14 2004 1010 0505 0001 3M02 606"]


@pytest.mark.parametrize("iban", GOOD_IBANS)
def test_a_valid_iban_is_accepted(iban):
    assert validate({"account_holder_name": "Jane Doe", "iban": iban}) == {}


def test_an_email_address_is_accepted():
    assert validate(EMAIL_DETAILS) == {}


@pytest.mark.parametrize(
    "iban, says",
    [
        ("DE88 3704 0044 0532 0130 00", "check digits"),  # one digit off: the mod-97 check fails
        ("DE89 3704 0044 0532 0130 01", "check digits"),
        ("DE89 3704 0044 0532 0130", "length"),
        ("ZZ89 3704 0044 0532 0130 00", "country code"),
        ("not an iban", "IBAN"),
    ],
)
def test_a_bad_iban_is_refused_saying_why(iban, says):
    faults = validate({"account_holder_name": "Jane Doe", "iban": iban})

    assert list(faults) == ["iban"] and says in faults["iban"]


def test_an_iban_and_an_email_together_are_refused():
    faults = validate({**IBAN_DETAILS, "email": "jane@example.com"})

    assert list(faults) == ["email"] and "not both" in faults["email"]


@pytest.mark.parametrize("details", [{"account_holder_name": "Jane Doe"}, {**IBAN_DETAILS, "iban": "  "}])
def test_neither_an_iban_nor_an_email_is_refused(details):
    assert list(validate(details)) == ["iban"]


@pytest.mark.parametrize("email", ["jane", "jane@example", "jane doe@example.com", "@example.com"])
def test_a_bad_email_address_is_refused(email):
    assert list(validate({**EMAIL_DETAILS, "email": email})) == ["email"]


@pytest.mark.parametrize("name", ["", "   ", "Jane <Doe>", "J" * 141])
def test_a_missing_or_unpayable_name_is_refused(name):
    assert list(validate({**IBAN_DETAILS, "account_holder_name": name})) == ["account_holder_name"]


def test_the_accounts_legal_type_is_private_or_business():
    assert validate({**IBAN_DETAILS, "legal_type": "business"}) == {}
    assert list(validate({**IBAN_DETAILS, "legal_type": "charity"})) == ["legal_type"]


def test_the_destination_reads_as_the_iban_in_groups_or_the_email_with_the_name():
    assert (
        destination({**IBAN_DETAILS, "iban": "de89370400440532013000"}) == "IBAN DE89 3704 0044 0532 0130 00 (Jane Doe)"
    )
    assert destination(EMAIL_DETAILS) == "email jane@example.com (Jane Doe)"
