"""A postback URL template and its macros (SPEC section 4).

``{name}`` anywhere in the URL is replaced by the event's value, URL-encoded
(so a sub value with ``&`` or spaces cannot break the query); a name that is
not a macro becomes empty. Saving a template with an unknown macro is allowed
and answered with a warning.
"""

import re
from urllib.parse import quote, urlsplit, urlunsplit

from affnet.plugins import N_, format_amount

MACRO = re.compile(r"\{([^{}\s]*)\}")
SUBS = tuple(f"sub{n}" for n in range(1, 11))
MACROS = ("clickid", "subid", *SUBS, "status", "event", "payout", "currency", "txid")


def macro_values(event) -> dict[str, str]:
    """The macros' values for an ``EventInfo``: ``{clickid}``/``{subid}`` is
    the affiliate tracker's click id (the link's ``clickid``, else ``s1``,
    else affnet's ``click_id``), empty when the event has no click."""
    click = event.click
    tracker_id = click.tracker_click_id if click else ""
    values = {
        "clickid": tracker_id,
        "subid": tracker_id,
        "status": event.status,
        "event": event.kind,
        "payout": format_amount(event.payout, event.payout_currency),
        "currency": event.payout_currency,
        "txid": event.txid,
    }
    for name in SUBS:
        values[name] = (click.subs.get(name) if click else None) or ""
    return values


def expand(template: str, event) -> str:
    """The final URL: every macro replaced by its URL-encoded value."""
    return expand_values(template, macro_values(event))


def expand_values(template: str, values: dict) -> str:
    """``expand`` with the macros' values already taken from the event."""
    return MACRO.sub(lambda match: quote(values.get(match.group(1), "") or "", safe=""), template)


def postback_url(payload: dict, settings: dict) -> str:
    """The URL a delivery is sent to: the setting's template expanded with the
    event's macros (``test=1`` added for a test event). A payload that holds
    the URL itself (stored by an earlier version of this plugin) is sent as it is."""
    if "url" in payload:
        return payload["url"]
    url = expand_values(settings.get("url") or "", payload.get("macros") or {})
    return with_test_flag(url) if payload.get("test") and url else url


def unknown_macros(template: str) -> list[str]:
    return [name for name in dict.fromkeys(MACRO.findall(template)) if name not in MACROS]


def with_test_flag(url: str) -> str:
    """The URL with ``test=1`` added to its query, marking a test send."""
    parts = urlsplit(url)
    query = f"{parts.query}&test=1" if parts.query else "test=1"
    return urlunsplit(parts._replace(query=query))


def validate(values: dict) -> dict:
    """The ``postback`` kind's own checks: warnings only (see DeliveryKind.validate)."""
    url = values.get("url") or ""
    warnings = []
    unknown = unknown_macros(url)
    if unknown:
        warnings.append(
            "unknown macros become empty: "
            + ", ".join("{" + name + "}" for name in unknown)
            + " (known: "
            + " ".join("{" + name + "}" for name in MACROS)
            + ")"
        )
    if url and "{clickid}" not in url and "{subid}" not in url:
        warnings.append(N_("the URL has no {clickid} or {subid}: your tracker cannot match the event to its click"))
    host = (urlsplit(url).hostname or "") if url else ""
    if host.endswith(".example"):
        warnings.append(f"{host} is the preset's placeholder: put your tracker's own address in its place")
    return {"_warnings": warnings} if warnings else {}
