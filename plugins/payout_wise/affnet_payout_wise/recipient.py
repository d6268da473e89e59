"""The affiliate's side of a Wise payout: the fields they fill in, their
checks, and the recipient account Wise is asked to create from them.

The shapes follow Wise's recipient account reference
(https://docs.wise.com/api-reference/recipient, ``POST /v1/accounts``):

- an IBAN recipient is ``{"type": "iban", "details": {"legalType": "PRIVATE",
  "iban": "…"}}``; Wise takes IBANs for BGN, CHF, DKK, EUR, GEL, GBP, NOK,
  PKR, PLN, RON and SEK, of which ``IBAN_CURRENCIES`` are the ones paid here;
- an email recipient is ``{"type": "email", "details": {"email": "…"}}``:
  Wise emails the recipient a link to give their bank details (Wise asks
  partners to talk to it before using them, and they cannot be tried in the
  sandbox); it is the way to pay USD here, which Wise pays to US account
  numbers rather than IBANs;
- ``accountHolderName`` may hold ``[0-9A-Za-zÀ-ÖØ-öø-ÿ-_()'*,.\\s]`` only.

IBANs are checked with ``schwifty`` (country, length, layout and the ISO
13616 mod-97 check digits).
"""

import re
from typing import Any

from schwifty import IBAN
from schwifty.exceptions import (
    InvalidChecksumDigits,
    InvalidCountryCode,
    InvalidLength,
    InvalidStructure,
    SchwiftyException,
)

from affnet.plugins import N_, SettingField

IBAN_CURRENCIES = ("EUR", "GBP", "CHF", "DKK", "NOK", "PLN", "SEK")
CURRENCIES = ("EUR", "GBP", "USD", "CHF", "DKK", "NOK", "PLN", "SEK")
LEGAL_TYPES = ("PRIVATE", "BUSINESS")
NAME_LIMIT = 140

_NAME = re.compile(r"[0-9A-Za-zÀ-ÖØ-öø-ÿ\-_()'*,.\s]+")
_EMAIL = re.compile(r"[^@\s\x00-\x1f]+@[^@\s\x00-\x1f.]+(?:\.[^@\s\x00-\x1f.]+)+")
_IBAN_FAULTS = (
    (InvalidChecksumDigits, N_("The IBAN's check digits do not match the rest: look for a typo.")),
    (InvalidCountryCode, N_("The IBAN does not start with a known country code.")),
    (InvalidLength, N_("The IBAN does not have its country's length.")),
    (InvalidStructure, N_("The IBAN does not have its country's layout.")),
)

FIELDS = (
    SettingField(
        "account_holder_name",
        N_("Account holder's name"),
        required=True,
        help=N_("As your bank knows it: your first and last name, or your company's full name."),
    ),
    SettingField(
        "iban",
        N_("IBAN"),
        help=N_("For payouts in EUR, GBP, CHF, DKK, NOK, PLN or SEK. Leave it empty to be paid by email."),
    ),
    SettingField(
        "email",
        N_("Email address for Wise"),
        help=N_("Instead of an IBAN (and for USD): Wise emails you a link to give your bank details."),
    ),
    SettingField(
        "legal_type",
        N_("Whose account"),
        help=N_("PRIVATE (a person's account, the default) or BUSINESS (a company's)."),
    ),
)


def text(details: dict[str, Any], name: str) -> str:
    """A field's value without surrounding spaces; "" when absent or not text."""
    value = details.get(name)
    return value.strip() if isinstance(value, str) else ""


def iban_fault(value: str) -> str | None:
    """What is wrong with an IBAN, or None when it is a valid one."""
    try:
        IBAN(value)
    except SchwiftyException as error:
        return next((message for kind, message in _IBAN_FAULTS if isinstance(error, kind)), N_("This is not an IBAN."))
    return None


def validate(details: dict[str, Any]) -> dict[str, str]:
    """``{field: message}`` for what is wrong with an affiliate's Wise details.

    The name is required; exactly one of ``iban`` and ``email`` is given; an
    IBAN passes its checksum; ``legal_type`` is PRIVATE or BUSINESS, if set."""
    faults = {}
    name = text(details, "account_holder_name")
    if not name:
        faults["account_holder_name"] = N_("Give the account holder's name.")
    elif len(name) > NAME_LIMIT or not _NAME.fullmatch(name):
        faults["account_holder_name"] = N_(
            "Use Latin letters, digits, spaces and - _ ( ) ' * , . only, at most 140 characters."
        )
    iban, email = text(details, "iban"), text(details, "email")
    if iban and email:
        faults["email"] = N_("Give an IBAN or an email address, not both.")
    elif not iban and not email:
        faults["iban"] = N_("Give an IBAN, or an email address for Wise to ask for your bank details.")
    elif iban and (fault := iban_fault(iban)):
        faults["iban"] = fault
    elif email and not _EMAIL.fullmatch(email):
        faults["email"] = N_("This is not an email address.")
    legal_type = text(details, "legal_type")
    if legal_type and legal_type.upper() not in LEGAL_TYPES:
        faults["legal_type"] = N_("Choose PRIVATE or BUSINESS.")
    return faults


def destination(details: dict[str, Any]) -> str:
    """Where the money goes, in one line: ``IBAN DE89 3704 … (Jane Doe)`` or
    ``email jane@example.com (Jane Doe)``."""
    name = text(details, "account_holder_name")
    iban = text(details, "iban")
    if iban:
        return f"IBAN {IBAN(iban, allow_invalid=True).formatted} ({name})"
    return f"email {text(details, 'email')} ({name})"


def unfit_for(details: dict[str, Any], currency: str) -> str | None:
    """Why these details cannot receive a Wise payout in ``currency``, or None."""
    faults = validate(details)
    if faults:
        return "the affiliate's Wise details are incomplete or invalid: " + " ".join(faults.values())
    if text(details, "iban") and currency not in IBAN_CURRENCIES:
        return (
            f"Wise pays {currency} to an IBAN only in {', '.join(IBAN_CURRENCIES)}: "
            "the affiliate should give an email address for Wise instead"
        )
    return None


def account_request(details: dict[str, Any], currency: str, profile_id: int) -> dict[str, Any]:
    """The body of ``POST /v1/accounts`` for these (valid) details."""
    body: dict[str, Any] = {
        "currency": currency,
        "profile": profile_id,
        "accountHolderName": text(details, "account_holder_name"),
    }
    iban = text(details, "iban")
    if iban:
        legal_type = text(details, "legal_type").upper() or "PRIVATE"
        body.update(type="iban", details={"legalType": legal_type, "iban": IBAN(iban).compact})
    else:
        body.update(type="email", details={"email": text(details, "email")})
    return body
