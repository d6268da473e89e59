"""A payout sent through the fake Wise: quoted, made out to the recipient,
transferred under the key's customerTransactionId, funded, polled to completed."""

import uuid
from dataclasses import replace
from decimal import Decimal

from affnet.plugins import PayoutResult
from affnet_payout_wise.payout import NAMESPACE, customer_transaction_id, poll, send
from fake_wise import BUSINESS_PROFILE, PERSONAL_PROFILE
from wise_cases import EMAIL_DETAILS, payout_request

FLOW = [
    ("GET", "/v2/profiles"),
    ("POST", "/v1/accounts"),
    ("POST", f"/v3/profiles/{BUSINESS_PROFILE}/quotes"),
    ("POST", "/v1/transfers"),
]


def test_a_payout_is_quoted_made_out_transferred_funded_and_polled_to_completed(wise, config):
    request = payout_request()

    result = send(request, config)

    [transfer] = wise.transfers.values()
    assert result == PayoutResult("sent", external_id=str(transfer["id"]))
    assert wise.requests == FLOW + [
        ("GET", f"/v1/transfers/{transfer['id']}"),
        ("POST", f"/v3/profiles/{BUSINESS_PROFILE}/transfers/{transfer['id']}/payments"),
    ]
    [account] = wise.accounts.values()
    assert account["type"] == "iban" and account["currency"] == "EUR" and account["profile"] == BUSINESS_PROFILE
    assert account["details"] == {"legalType": "PRIVATE", "iban": "DE89370400440532013000"}
    assert account["accountHolderName"] == "Jane Doe"
    [quote] = wise.quotes.values()
    assert (quote["sourceCurrency"], quote["targetCurrency"], quote["targetAccount"]) == ("EUR", "EUR", account["id"])
    assert transfer["quoteUuid"] == quote["id"] and transfer["targetAccount"] == account["id"]
    assert transfer["customerTransactionId"] == str(uuid.uuid5(NAMESPACE, "affnet-payout-42"))
    assert transfer["details"] == {"reference": "affnet payout 42"}
    assert wise.fundings == [transfer["id"]]

    sent = replace(request, external_id=result.external_id)
    assert poll(sent, config) == PayoutResult("sent", external_id=result.external_id)
    wise.set_status(transfer["id"], "funds_converted")
    assert poll(sent, config).outcome == "sent"
    wise.set_status(transfer["id"], "outgoing_payment_sent")
    assert poll(sent, config) == PayoutResult("completed", external_id=result.external_id)


def test_the_amount_reaches_wise_as_an_exact_number_in_the_payouts_own_currency(wise, config):
    send(payout_request(amount=Decimal("1999.99"), currency="GBP"), config)

    [quote] = wise.quotes.values()
    assert type(quote["targetAmount"]) is Decimal and quote["targetAmount"] == Decimal("1999.99")
    assert (quote["sourceCurrency"], quote["targetCurrency"]) == ("GBP", "GBP")


def test_an_amount_with_more_decimals_than_its_currency_is_refused_before_calling_wise(wise, config):
    result = send(payout_request(amount=Decimal("10.005")), config)

    assert result.outcome == "failed" and "10.005" in result.error
    assert wise.requests == []


def test_an_email_address_is_made_an_email_recipient(wise, config):
    result = send(payout_request(currency="USD", details=dict(EMAIL_DETAILS)), config)

    assert result.outcome == "sent"
    [account] = wise.accounts.values()
    assert (account["type"], account["currency"], account["details"]) == ("email", "USD", {"email": "jane@example.com"})


def test_a_usd_payout_to_an_iban_fails_before_calling_wise(wise, config):
    result = send(payout_request(currency="USD"), config)

    assert result.outcome == "failed" and "email" in result.error
    assert wise.requests == []


def test_the_configured_profile_pays_without_asking_wise_for_the_list(wise, config):
    result = send(payout_request(), {**config, "profile_id": PERSONAL_PROFILE})

    assert result.outcome == "sent"
    assert ("GET", "/v2/profiles") not in wise.requests
    assert ("POST", f"/v3/profiles/{PERSONAL_PROFILE}/quotes") in wise.requests


def test_an_operator_with_only_a_personal_profile_pays_from_it(wise, config):
    wise.profiles = [profile for profile in wise.profiles if profile["type"] == "PERSONAL"]

    assert send(payout_request(), config).outcome == "sent"
    assert ("POST", f"/v3/profiles/{PERSONAL_PROFILE}/quotes") in wise.requests


def test_the_customer_transaction_id_is_a_uuid_that_only_the_key_decides():
    first = customer_transaction_id("affnet-payout-42")

    assert uuid.UUID(first).version == 5
    assert customer_transaction_id("affnet-payout-42") == first
    assert customer_transaction_id("affnet-payout-43") != first


def test_the_reference_is_fitted_to_what_the_route_carries(wise, config):
    send(payout_request(payout_id=123456, currency="GBP"), config)
    send(payout_request(payout_id=123457, currency="USD", details=dict(EMAIL_DETAILS)), config)

    references = [transfer["details"]["reference"] for transfer in wise.transfers.values()]
    assert references == ["payout 123456", "P123457"]
