"""Which affiliate an event belongs to.

By ``click_id`` when that click is the offer's and within its cookie window;
otherwise by ``user_ref``, to the affiliate of that customer's earliest
attributed event on the offer (lifetime attribution of rebills). Nothing
else attributes.
"""
from dataclasses import dataclass
from datetime import timedelta

from . import rows
from .models import Click, Event, Offer, Participation


@dataclass(frozen=True)
class Attribution:
    participation: Participation | None
    click: Click | None

    @property
    def attributed(self) -> bool:
        return self.participation is not None


NOBODY = Attribution(None, None)


_CLICK_FIELDS = Click._meta.sorted_fields


def _click(offer: Offer, click_id: str) -> Click | None:
    """The offer's click with its participation (id, affiliate, refCode): the
    first query of every attributed conversion, so its SQL is built once."""
    found = rows.fetch("attribution.click", lambda: (
        Click.select(*_CLICK_FIELDS, Participation.affiliate, Participation.ref_code).join(Participation)
        .where((Click.click_id == click_id) & (Click.offer == offer.id)).limit(1)), [click_id, offer.id, 1])
    if not found:
        return None
    *values, affiliate_id, ref_code = found[0]
    click = Click(**{field.name: field.python_value(value) for field, value in zip(_CLICK_FIELDS, values)})
    click.participation = Participation(id=click.participation_id, affiliate=affiliate_id, ref_code=ref_code)
    return click


def attribute(offer: Offer, click_id: str | None, user_ref: str | None, at, load_clicks=None) -> Attribution:
    """Reads only, so it runs before the event's transaction. ``load_clicks()``
    is called once when ``click_id`` is not in the database (the click may
    still be in the spool) before looking again and before ``user_ref``."""
    if click_id:
        click = _click(offer, click_id)
        if click is None and load_clicks is not None:
            load_clicks()
            click = _click(offer, click_id)
        if click is not None and at <= click.created_at + timedelta(days=offer.cookie_days):
            return Attribution(click.participation, click)
    if user_ref:
        first = (Event.select()
                 .where((Event.offer == offer.id) & (Event.user_ref == user_ref) & Event.attributed)
                 .order_by(Event.occurred_at, Event.id)
                 .first())
        if first is not None:
            return Attribution(first.participation, first.click)
    return NOBODY
