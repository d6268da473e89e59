"""The last calls of a plugin's webhook for an offer (Stripe's, say) and what
came of each, for the product owner's page: signature refused, event
ignored, recorded, duplicate, error.

This is a window onto a webhook, not a record to keep: only the newest
``KEEP`` calls per offer and source stay (older ones are deleted as each new
one is written), and it is not an audit entry. Writing one can never change
the webhook's answer: a failure is logged and swallowed.
"""

import logging

from .. import clock
from ..storage.db import db
from ..storage.models import Offer, WebhookCall

KEEP = 50
_EVENT_TYPE_LIMIT = 200
_RESULT_LIMIT = 500

log = logging.getLogger("affnet.webhook_calls")


def _one_line(text, limit: int) -> str:
    """``text`` as one printable line of at most ``limit`` characters (it may come from a request)."""
    line = "".join(ch if ch.isprintable() else " " for ch in str(text or ""))
    return line if len(line) <= limit else line[: limit - 1] + "…"


def record_call(offer: Offer, source: str, status_code: int, event_type: str = "", result: str = "") -> None:
    """Keep one call of ``source``'s webhook for ``offer``: the HTTP status it
    answered, the provider's event type (empty when unknown, such as a call
    whose signature was refused) and what came of it in a few words. Deletes
    the calls beyond the newest ``KEEP`` of that offer and source in the same
    transaction. Never raises."""
    try:
        with db.atomic():
            WebhookCall.create(
                offer=offer.id,
                source=source,
                at=clock.now(),
                status_code=int(status_code),
                event_type=_one_line(event_type, _EVENT_TYPE_LIMIT),
                result=_one_line(result, _RESULT_LIMIT),
            )
            mine = (WebhookCall.offer == offer.id) & (WebhookCall.source == source)
            newest = WebhookCall.select(WebhookCall.id).where(mine).order_by(WebhookCall.id.desc()).limit(KEEP)
            WebhookCall.delete().where(mine & WebhookCall.id.not_in(newest)).execute()
    except Exception as error:  # the webhook's answer must not depend on this window onto it
        log.warning("could not record a %s webhook call of offer %s: %s", source, offer.id, error)


def recent_calls(offer: Offer, source: str, limit: int = 20) -> list[WebhookCall]:
    """The newest calls of ``source``'s webhook for ``offer``, newest first."""
    return list(
        WebhookCall.select()
        .where((WebhookCall.offer == offer.id) & (WebhookCall.source == source))
        .order_by(WebhookCall.id.desc())
        .limit(limit)
    )
