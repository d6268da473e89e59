"""Which affiliate an event belongs to.

By ``click_id`` when that click is the offer's and within its cookie window;
otherwise by ``user_ref``, to the affiliate of that customer's earliest
attributed event on the offer (lifetime attribution of rebills). Nothing
else attributes.
"""

from dataclasses import dataclass
from datetime import timedelta

from ..storage import sql
from ..storage.models import Click, Event, Offer, Participation


@dataclass(frozen=True)
class Attribution:
    participation: Participation | None
    click: Click | None

    @property
    def attributed(self) -> bool:
        return self.participation is not None


NOBODY = Attribution(None, None)


def _fetch_click(key: str, condition, params: list) -> Click | None:
    """One click with its participation (id, affiliate, refCode), by a query
    whose SQL is built once: attribution runs on every conversion."""
    click, (affiliate_id, ref_code) = sql.fetch_instance(
        Click,
        key,
        lambda fields: (
            Click.select(*fields, Participation.affiliate, Participation.ref_code)
            .join(Participation)
            .where(condition())
            .limit(1)
        ),
        params + [1],
        extra=2,
    )
    if click is None:
        return None
    click.participation = Participation(id=click.participation_id, affiliate=affiliate_id, ref_code=ref_code)
    return click


def _click(offer: Offer, click_id: str) -> Click | None:
    return _fetch_click(
        "attribution.click", lambda: (Click.click_id == click_id) & (Click.offer == offer.id), [click_id, offer.id]
    )


def _first_click_of(offer: Offer, user_ref: str) -> Click | None:
    """The click of the customer's earliest attributed event on the offer."""

    def condition():
        first = (
            Event.select(Event.click)
            .where((Event.offer == offer.id) & (Event.user_ref == user_ref) & (Event.attributed == True))
            .order_by(Event.occurred_at, Event.id)
            .limit(1)
        )
        return Click.id == first

    return _fetch_click("attribution.first_click", condition, [offer.id, user_ref, True, 1])


def attribute(offer: Offer, click_id: str | None, user_ref: str | None, at, load_clicks=None) -> Attribution:
    """Reads only, so it runs before the event's transaction.
    ``load_clicks(click_id)`` is called once when ``click_id`` is not in the
    database (the click may still be in the spool, or being loaded and
    committed meanwhile); then it is looked up again, before ``user_ref``."""
    if click_id:
        click = _click(offer, click_id)
        if click is None and load_clicks is not None:
            load_clicks(click_id)
            click = _click(offer, click_id)
        if click is not None and at <= click.created_at + timedelta(days=offer.cookie_days):
            return Attribution(click.participation, click)
    if user_ref:
        click = _first_click_of(offer, user_ref)
        if click is not None:
            return Attribution(click.participation, click)
    return NOBODY
