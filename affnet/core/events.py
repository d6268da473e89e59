"""What plugins are told about an event: small frozen snapshots.

Plugins never receive database rows: they get these, built by the core in
the event's transaction, so a plugin cannot change the books by accident and
the shape it sees is documented here in one place.
"""
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class ClickInfo:
    click_id: str
    created_at: datetime
    clickid: str | None
    fbclid: str | None
    ip: str | None
    user_agent: str | None
    subs: dict = field(default_factory=dict)  # {"sub1": ..., "sub10": ...}

    @property
    def tracker_click_id(self) -> str:
        """The affiliate tracker's id: the link's ``clickid``, else ``s1``, else ours."""
        return self.clickid or self.subs.get("sub1") or self.click_id


@dataclass(frozen=True)
class OfferInfo:
    id: int
    slug: str
    name: str
    landing_url: str
    currency: str


@dataclass(frozen=True)
class EventInfo:
    """One recorded event, as plugins see it.

    ``payout`` is the affiliate's commission for this event in
    ``payout_currency`` (negative for a refund or chargeback). ``click`` is
    None for an unattributed event or one attributed by ``user_ref`` whose
    first click is gone. ``is_test`` marks a test send from the settings page.
    """

    txid: str
    kind: str  # lead, trial, sale, rebill, refund, chargeback
    status: str  # lead, sale, rejected
    occurred_at: datetime
    offer: OfferInfo
    attributed: bool
    affiliate_id: int | None
    participation_id: int | None
    ref_code: str | None
    payout: Decimal
    payout_currency: str
    gross_amount: Decimal | None
    currency: str | None
    user_ref: str | None
    external_payment_id: str | None
    is_first_payment: bool
    click: ClickInfo | None
    is_test: bool = False
