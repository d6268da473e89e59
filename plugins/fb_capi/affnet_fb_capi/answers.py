"""Meta's answers, read as Meta documents them (Graph API "Handling Errors").

A success is ``{"events_received": n, "messages": [], "fbtrace_id": ...}``.
An error is ``{"error": {"message", "type", "code", "error_subcode",
"is_transient", "error_user_title", "error_user_msg", "fbtrace_id"}}``:

* transient (``is_transient``; codes 1 and 2, outages; 4, 17, 32, 341, 613
  and the 80000s, throttling), HTTP 429 and 5xx: try again later;
* 190, and 102 (an expired, revoked or invalid token): fail, the affiliate
  must save a new token;
* 10 and 200-299 (the token may not send to this pixel): fail;
* anything else (100, an invalid parameter or unknown pixel): fail with
  Meta's own message. Meta refuses a whole request for one invalid event,
  so an invalid parameter (100, not an unknown pixel) is marked
  ``per_event``: the sender splits the batch to find the event.

Every text made here has the token scrubbed out of it.
"""

import json
from dataclasses import dataclass

from affnet.plugins.senders import mask

TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 341, 613})
TOKEN_CODES = frozenset({102, 190})


@dataclass(frozen=True)
class Verdict:
    outcome: str  # sent, retry, failed
    error: str = ""
    excerpt: str = ""
    # Meta refuses a whole request for one bad event: a refused parameter may
    # concern only some of the events sent together.
    per_event: bool = False


def scrub(text: str, token: str) -> str:
    """``text`` with the token replaced by its last four characters."""
    return mask(text, (token,))


def _error_of(body_text: str) -> dict:
    try:
        body = json.loads(body_text)
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _is_transient(code, error: dict) -> bool:
    return (
        bool(error.get("is_transient")) or code in TRANSIENT_CODES or (isinstance(code, int) and 80000 <= code < 80100)
    )


def _reference(code, error: dict) -> str:
    parts = [f"code {code}"]
    if error.get("error_subcode") is not None:
        parts.append(f"subcode {error['error_subcode']}")
    if error.get("fbtrace_id"):
        parts.append(f"fbtrace_id {error['fbtrace_id']}")
    return ", ".join(parts)


def verdict(status_code: int, body_text: str, token: str, pixel_id: str) -> Verdict:
    """What one answer of Meta means for every event sent with it."""
    excerpt = scrub(body_text, token)[:500]
    if 200 <= status_code < 300:
        return Verdict("sent", excerpt=excerpt)
    error = _error_of(body_text)
    code = error.get("code")
    said = scrub(str(error.get("error_user_msg") or error.get("message") or ""), token)
    if status_code >= 500 or status_code == 429 or _is_transient(code, error):
        why = f"Meta answered HTTP {status_code}" + (f" ({said}; {_reference(code, error)})" if error else "")
        return Verdict("retry", why + "; trying again later", excerpt)
    if code in TOKEN_CODES:
        hint = "…" + token[-4:] if token else "(none)"
        return Verdict(
            "failed",
            (
                f"Meta refused the Conversions API access token ending {hint} for pixel {pixel_id}: it has expired, "
                f"was revoked or is not valid ({_reference(code, error)}). Make a new token in Events Manager "
                "(Settings, Conversions API) and save it in your pixel settings; these events will not be retried."
            ),
            excerpt,
        )
    if code == 10 or (isinstance(code, int) and 200 <= code <= 299):
        return Verdict(
            "failed",
            (
                f"Meta says this access token may not send events to pixel {pixel_id} ({said}; "
                f"{_reference(code, error)}). Check the Pixel ID, or make the token from that pixel's settings."
            ),
            excerpt,
        )
    if error:
        return Verdict(
            "failed",
            f"Meta refused the events for pixel {pixel_id}: {said} ({_reference(code, error)})",
            excerpt,
            per_event=code == 100 and error.get("type") != "GraphMethodException",
        )
    return Verdict("failed", f"Meta answered HTTP {status_code} for pixel {pixel_id}", excerpt)
