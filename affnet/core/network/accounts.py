"""Users, offers, commission rules and participations: making and changing them."""

import re
import secrets as _random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from peewee import IntegrityError
from werkzeug.security import generate_password_hash

from .. import clock
from . import audit
from ..earnings import commissions
from ..clicks import tracking
from ..storage.cache import TTLCache
from ..storage.db import db
from ..storage.models import (
    CONVERSION_KINDS,
    PARTICIPATION_STATES,
    ROLES,
    CommissionRule,
    Event,
    Offer,
    Participation,
    User,
)
from ..earnings.money import MoneyError, parse_amount, parse_currency
from ..storage.secrets import hash_token, hint, new_token

_REF_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"  # base58


class AccountError(ValueError):
    """A request to make or change an account that cannot be done; says why."""


@dataclass(frozen=True)
class RuleSpec:
    event: str
    kind: str  # fixed or percent
    amount: Decimal
    rebill_months: int | None = None

    @classmethod
    def parse(cls, text: str) -> "RuleSpec":
        """``sale=30%``, ``lead=1.50``, ``rebill=20%:12`` (12 months)."""
        try:
            event, rest = text.split("=", 1)
            months = None
            if ":" in rest:
                rest, months_text = rest.split(":", 1)
                months = int(months_text)
            kind = "percent" if rest.endswith("%") else "fixed"
            amount = parse_amount(rest.rstrip("%"))
        except (ValueError, MoneyError):
            raise AccountError(
                f"commission rule {text!r}: write it as sale=30% or lead=1.50 or rebill=20%:12"
            ) from None
        if event not in CONVERSION_KINDS:
            raise AccountError(f"commission rule {text!r}: the event must be one of {', '.join(CONVERSION_KINDS)}")
        if kind == "percent" and amount > 100:
            raise AccountError(f"commission rule {text!r}: a percentage cannot exceed 100")
        return cls(event, kind, amount, months)


def create_user(email: str, role: str, name: str = "", password: str | None = None) -> tuple[User, str]:
    """Returns the user and the password (generated when not given): the only
    time the password is seen."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if not re.match(r"^[^@\s]+@[^@\s]+$", email or ""):
        raise AccountError(f"{email!r} is not an email address")
    password = password or _random.token_urlsafe(12)
    try:
        with db.atomic():
            user = User.create(
                email=email.lower(),
                role=role,
                name=name or email.split("@")[0],
                password_hash=generate_password_hash(password),
                approved_at=clock.now(),
            )
            audit.record("user.create", user.email, audit.created({"role": role, "name": user.name}), account=user)
    except IntegrityError:
        raise AccountError(f"a user with the email {email} exists already") from None
    return user, password


def _slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "offer"


def _check_landing_url(url: str) -> str:
    """An absolute http(s) URL without control characters (a NUL cannot be stored on PostgreSQL, and a
    browser would drop a line break or a tab the page shows)."""
    if any(ord(character) < 0x20 or ord(character) == 0x7F for character in url or ""):
        raise AccountError("the landing URL must not hold control characters (tabs, line breaks, NUL)")
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise AccountError(f"landing URL {url!r} must be an absolute http:// or https:// URL")
    return url


def create_offer(
    advertiser: User,
    name: str,
    landing_url: str,
    currency: str = "USD",
    cookie_days: int = 60,
    hold_days: int = 7,
    rules: list[RuleSpec] = (),
    description: str = "",
    slug: str | None = None,
    approval: str = "manual",
    public: bool = True,
) -> tuple[Offer, str]:
    """Returns the offer and its key: the only time the key is seen."""
    if advertiser.role not in ("advertiser", "admin"):
        raise AccountError("only a product owner (advertiser) or an admin can own an offer")
    if approval not in ("manual", "auto"):
        raise AccountError("approval must be manual or auto")
    try:
        currency = parse_currency(currency)
    except MoneyError as error:
        raise AccountError(f"currency {error}") from None
    if cookie_days < 1 or hold_days < 0:
        raise AccountError("the cookie window must be at least 1 day and the hold 0 days or more")
    key = new_token("ok")
    base = slug or _slugify(name)
    with db.atomic():
        candidate, n = base, 1
        while Offer.select().where(Offer.slug == candidate).exists():
            n += 1
            candidate = f"{base}-{n}"
        offer = Offer.create(
            slug=candidate,
            name=name,
            advertiser=advertiser,
            landing_url=_check_landing_url(landing_url),
            currency=currency,
            cookie_days=cookie_days,
            hold_days=hold_days,
            description=description,
            approval=approval,
            is_public=public,
            key_hash=hash_token(key),
            key_hint=hint(key),
        )
        audit.record("offer.create", offer.slug, audit.created(_offer_values(offer)), offer=offer)
        audit.record("offer.key_create", offer.slug, {"key": dict(audit.SECRET)}, offer=offer)
        for rule in rules:
            set_rule(offer, rule)
    return offer, key


def _offer_values(offer: Offer) -> dict:
    return {name: getattr(offer, name) for name in OFFER_FIELDS}


def rule_text(rule: CommissionRule | RuleSpec | None) -> str | None:
    """A rule as written in ``RuleSpec.parse``: ``sale=30%``, ``lead=1.50``, ``rebill=20%:12``."""
    if rule is None:
        return None
    fixed = rule.amount.normalize()
    fixed = fixed.quantize(Decimal("0.01")) if fixed.as_tuple().exponent > -2 else fixed  # 2.00, 0.125
    amount = f"{rule.amount.normalize():f}%" if rule.kind == "percent" else f"{fixed:f}"
    return f"{rule.event}={amount}" + (f":{rule.rebill_months}" if rule.rebill_months else "")


def set_rule(offer: Offer, rule: RuleSpec) -> CommissionRule:
    """Set (or replace) what an event of the offer pays; applies to events
    recorded from now on."""
    with db.atomic():
        before = CommissionRule.get_or_none((CommissionRule.offer == offer) & (CommissionRule.event == rule.event))
        CommissionRule.delete().where((CommissionRule.offer == offer) & (CommissionRule.event == rule.event)).execute()
        commissions.rules.forget(offer.id)
        made = CommissionRule.create(
            offer=offer, event=rule.event, kind=rule.kind, amount=rule.amount, rebill_months=rule.rebill_months
        )
        changes = audit.diff({rule.event: rule_text(before)}, {rule.event: rule_text(made)})
        if changes:
            audit.record("commission.set", offer.slug, changes, offer=offer)
        return made


def set_rules(offer: Offer, rules: dict[str, RuleSpec | None]) -> list[str]:
    """Make the offer pay what ``rules`` says per event (None: nothing), changing only the events whose rule
    differs (each change audited); returns those events. Applies to events recorded from now on."""
    current = {rule.event: rule for rule in CommissionRule.select().where(CommissionRule.offer == offer.id)}
    changed = []
    with db.atomic():
        for event, rule in rules.items():
            if _terms(rule) == _terms(current.get(event)):
                continue
            if rule is None:
                remove_rule(offer, event)
            else:
                set_rule(offer, rule)
            changed.append(event)
    commissions.rules.forget(offer.id)
    return changed


def _terms(rule: CommissionRule | RuleSpec | None) -> tuple | None:
    return None if rule is None else (rule.kind, Decimal(rule.amount), rule.rebill_months)


def remove_rule(offer: Offer, event: str) -> bool:
    """Stop paying for an event of the offer (events recorded from now on); False when it paid nothing."""
    with db.atomic():
        before = CommissionRule.get_or_none((CommissionRule.offer == offer) & (CommissionRule.event == event))
        if before is None:
            return False
        CommissionRule.delete().where(CommissionRule.id == before.id).execute()
        commissions.rules.forget(offer.id)
        audit.record("commission.remove", offer.slug, audit.diff({event: rule_text(before)}, {}), offer=offer)
        return True


def rotate_offer_key(offer: Offer) -> str:
    """A new key for the offer; the old one stops working at once."""
    key = new_token("ok")
    with db.atomic():
        Offer.update(key_hash=hash_token(key), key_hint=hint(key), key_last_used_at=None).where(
            Offer.id == offer.id
        ).execute()
        audit.record("offer.key_rotate", offer.slug, {"key": dict(audit.SECRET)}, offer=offer)
    offer.key_hint, offer.key_last_used_at = hint(key), None
    offers_by_key.forget()
    return key


offers_by_key = TTLCache(5)
KEY_USE_RESOLUTION = timedelta(minutes=1)
# the key's hash -> when this process last wrote its offer's key_last_used_at; a new key starts afresh
_key_use_written: dict[str, datetime] = {}


def note_key_used(offer: Offer, now: datetime) -> None:
    """Record that the offer's key was used, at most once a minute per offer in this process: the ingest
    path calls it on every call, so what it costs is one dict lookup; the write is one UPDATE a minute.
    ``key_last_used_at`` is therefore exact to about a minute."""
    written = _key_use_written.get(offer.key_hash)
    if written is not None and now - written < KEY_USE_RESOLUTION:
        return
    _key_use_written[offer.key_hash] = now  # before the write: a failing write is tried again in a minute, not at once
    Offer.update(key_last_used_at=now).where(Offer.id == offer.id).execute()


def offer_by_key(key: str | None) -> Offer | None:
    """The offer whose key this is (kept in memory for 5 s; a rotated key
    stops working at once on the server that rotated it, within 5 s on others)."""
    if not key:
        return None
    key_hash = hash_token(key.strip())
    return offers_by_key.get(key_hash, lambda: Offer.get_or_none(Offer.key_hash == key_hash))


def _new_ref_code() -> str:
    return "".join(_random.choice(_REF_ALPHABET) for _ in range(10))


def apply(affiliate: User, offer: Offer, note: str = "") -> Participation:
    """An affiliate's application to an offer: pending until the product
    owner decides, or approved at once when the offer's approval is "auto"."""
    if affiliate.role != "affiliate":
        raise AccountError("only an affiliate can apply to an offer")
    auto = offer.approval == "auto"
    try:
        with db.atomic():
            participation = Participation.create(
                offer=offer,
                affiliate=affiliate,
                ref_code=_new_ref_code(),
                note=note,
                status="approved" if auto else "pending",
                decided_at=clock.now() if auto else None,
            )
            audit.record(
                "participation.apply",
                participation.ref_code,
                audit.created({"status": participation.status, "note": note}),
                offer=offer,
                account=affiliate,
            )
            return participation
    except IntegrityError:
        raise AccountError(f"{affiliate.email} has applied to {offer.slug} already") from None


def set_participation_status(participation: Participation, status: str, note: str | None = None) -> Participation:
    """Approve, reject, pause or resume (approve again) a participation; ``note`` (the decision's reason,
    shown to the affiliate) replaces the decision's note when given (the affiliate's own note stays)."""
    if status not in PARTICIPATION_STATES:
        raise AccountError(f"status must be one of {', '.join(PARTICIPATION_STATES)}")
    before = {"status": participation.status, "note": participation.decision_note}
    participation.status = status
    participation.decided_at = clock.now()
    if note is not None:
        participation.decision_note = note.strip()[:1000]
    with db.atomic():
        participation.save()
        changes = audit.diff(before, {"status": participation.status, "note": participation.decision_note})
        if changes:
            audit.record(
                "participation.status",
                participation.ref_code,
                changes,
                offer=participation.offer_id,
                account=participation.affiliate_id,
            )
    tracking.forget_route(participation.ref_code)
    return participation


OFFER_FIELDS = (
    "name",
    "description",
    "landing_url",
    "currency",
    "cookie_days",
    "hold_days",
    "approval",
    "is_public",
    "is_active",
)


def has_events(offer: Offer) -> bool:
    """Whether the offer has recorded a real event (test conversions are not counted): its currency is then
    fixed."""
    return Event.select().where((Event.offer == offer.id) & (Event.is_test == False)).exists()


def edit_offer(
    offer: Offer,
    landing_url: str | None = None,
    approval: str | None = None,
    public: bool | None = None,
    name: str | None = None,
    description: str | None = None,
    currency: str | None = None,
    cookie_days: int | None = None,
    hold_days: int | None = None,
) -> Offer:
    """Change an offer (None: unchanged). A new hold or cookie window applies to events and clicks from now
    on; the currency can change only while the offer has no events (``has_events``)."""
    if approval is not None and approval not in ("manual", "auto"):
        raise AccountError("approval must be manual or auto")
    before = _offer_values(offer)
    if name is not None:
        if not name.strip():
            raise AccountError("the offer needs a name")
        offer.name = name.strip()[:200]
    if description is not None:
        offer.description = description.strip()[:5000]
    if landing_url is not None:
        offer.landing_url = _check_landing_url(landing_url)
    if currency is not None:
        try:
            currency = parse_currency(currency)
        except MoneyError as error:
            raise AccountError(f"currency {error}") from None
        if currency != offer.currency and has_events(offer):
            raise AccountError("the currency cannot change once the offer has events: make a new offer")
        offer.currency = currency
    if cookie_days is not None:
        if cookie_days < 1:
            raise AccountError("the cookie window must be at least 1 day")
        offer.cookie_days = cookie_days
    if hold_days is not None:
        if hold_days < 0:
            raise AccountError("the hold must be 0 days or more")
        offer.hold_days = hold_days
    if approval is not None:
        offer.approval = approval
    if public is not None:
        offer.is_public = public
    _save_offer(offer, before)
    return offer


def _save_offer(offer: Offer, before: dict) -> None:
    with db.atomic():
        offer.save()
        changes = audit.diff(before, _offer_values(offer))
        if changes:
            audit.record("offer.edit", offer.slug, changes, offer=offer)
    _forget_offer(offer)


def _forget_offer(offer: Offer) -> None:
    """Drop what this process keeps in memory of the offer (other servers drop it within ``cache_seconds``)."""
    offers_by_key.forget()
    commissions.rules.forget(offer.id)
    for participation in offer.participations:  # the landing URL and the cookie window are part of every route
        tracking.forget_route(participation.ref_code)


def change_offer(offer: Offer, rules: dict[str, RuleSpec | None], **fields) -> Offer:
    """``edit_offer(offer, **fields)`` and ``set_rules(offer, rules)`` all or nothing (each change audited);
    both apply to events recorded from now on."""
    with db.atomic():
        edit_offer(offer, **fields)
        set_rules(offer, rules)
    _forget_offer(offer)  # again: a server may have read the old values before this transaction committed
    return offer


def set_offer_active(offer: Offer, active: bool) -> None:
    """Pause (its links send clicks to the fallback) or resume an offer."""
    before = _offer_values(offer)
    offer.is_active = active
    _save_offer(offer, before)
