"""The product owner's forms: an offer with its commission rules, a decision on an application, a test
conversion. Each carries a CSRF token (Flask-WTF)."""

from urllib.parse import urlsplit

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, SubmitField, TextAreaField, ValidationError
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ...core.earnings.money import MoneyError, parse_amount, parse_currency
from ...core.network.accounts import RuleSpec
from ...core.storage.models import CONVERSION_KINDS, CommissionRule, Offer

RULE_EVENTS = ("sale", "rebill", "trial", "lead")
RULE_KINDS = [
    SelectChoice("", _l("Pays nothing")),
    SelectChoice("fixed", _l("A fixed amount (in the offer's currency)")),
    SelectChoice("percent", _l("A percentage of what the customer paid")),
]


def _rule_kind(label):
    return SelectField(label, choices=RULE_KINDS, default="")


def _rule_amount(label):
    return StringField(label, validators=[Optional(), Length(max=20)])


class OfferForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description (shown to affiliates)"), validators=[Optional(), Length(max=5000)])
    landing_url = StringField(_l("Landing URL"), validators=[DataRequired(), Length(max=2000)])
    currency = StringField(_l("Currency (ISO 4217 code, such as USD)"), validators=[DataRequired()], default="USD")
    cookie_days = IntegerField(
        _l("Cookie window (days)"), validators=[InputRequired(), NumberRange(min=1, max=3650)], default=60
    )
    hold_days = IntegerField(
        _l("Hold (days before a commission can be paid)"),
        validators=[InputRequired(), NumberRange(min=0, max=365)],
        default=7,
    )
    is_public = BooleanField(_l("Public: listed in the marketplace"), default=True)
    approval = SelectField(
        _l("Applications"),
        choices=[
            SelectChoice("manual", _l("Manual: I approve or reject each one")),
            SelectChoice("auto", _l("Automatic: approved at once")),
        ],
    )
    sale_kind = _rule_kind(_l("A sale pays"))
    sale_amount = _rule_amount(_l("Sale: the amount or the percentage"))
    rebill_kind = _rule_kind(_l("A rebill pays"))
    rebill_amount = _rule_amount(_l("Rebill: the amount or the percentage"))
    rebill_months = IntegerField(
        _l("Rebills pay for this many months after the customer's first payment (empty: no limit)"),
        validators=[Optional(), NumberRange(min=1, max=600)],
    )
    trial_kind = _rule_kind(_l("A trial pays"))
    trial_amount = _rule_amount(_l("Trial: the amount or the percentage"))
    lead_kind = _rule_kind(_l("A lead pays"))
    lead_amount = _rule_amount(_l("Lead: the amount or the percentage"))
    submit = SubmitField(_l("Save"))

    def validate_landing_url(self, field):
        parts = urlsplit((field.data or "").strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValidationError(_("Write a whole address starting with https:// or http://."))

    def validate_currency(self, field):
        try:
            field.data = parse_currency((field.data or "").strip())
        except MoneyError:
            raise ValidationError(_("Write a current ISO 4217 currency code such as USD or EUR.")) from None

    def rule_specs(self) -> dict[str, RuleSpec | None] | None:
        """What each event pays, or None (with the faults on the fields) when a rule is wrong."""
        specs, right = {}, True
        for event in RULE_EVENTS:
            kind, amount_field = self[f"{event}_kind"].data, self[f"{event}_amount"]
            if not kind:
                specs[event] = None
                continue
            text = (amount_field.data or "").strip().rstrip("%").strip().replace(",", ".")
            try:
                amount = parse_amount(text)
            except MoneyError:
                amount_field.errors = [
                    *amount_field.errors,
                    _("Write an amount such as 12.50, or a percentage such as 30."),
                ]
                right = False
                continue
            if kind == "percent" and amount > 100:
                amount_field.errors = [*amount_field.errors, _("A percentage cannot be more than 100.")]
                right = False
                continue
            months = self.rebill_months.data if event == "rebill" else None
            specs[event] = RuleSpec(event, kind, amount, months)
        return specs if right else None

    def fill(self, offer: Offer) -> None:
        """Show the offer as it is."""
        for name in ("name", "description", "landing_url", "currency", "cookie_days", "hold_days", "approval"):
            self[name].data = getattr(offer, name)
        self.is_public.data = offer.is_public
        for rule in CommissionRule.select().where(CommissionRule.offer == offer.id):
            if rule.event not in RULE_EVENTS:
                continue
            self[f"{rule.event}_kind"].data = rule.kind
            self[f"{rule.event}_amount"].data = f"{rule.amount.normalize():f}"
            if rule.event == "rebill":
                self.rebill_months.data = rule.rebill_months


class NewOfferForm(OfferForm):
    """The operator's form also names the offer's owner."""

    owner = SelectField(_l("Owner (a product owner's account)"), coerce=int)
    submit = SubmitField(_l("Make the offer"))


DECISIONS = ("approved", "rejected", "paused")


class DecisionForm(FlaskForm):
    """Approve, reject, pause or resume (approve again) one application, with a note the affiliate sees."""

    note = TextAreaField(_l("Note to the affiliate (optional)"), validators=[Optional(), Length(max=1000)])
    status = SelectField(choices=[SelectChoice(status, status) for status in DECISIONS])


class TestConversionForm(FlaskForm):
    event = SelectField(_l("Event"), choices=[SelectChoice(kind, _l(kind)) for kind in CONVERSION_KINDS])  # words.py
    gross_amount = StringField(
        _l("Amount the customer paid, in the offer's currency (needed for a sale or rebill)"),
        validators=[Optional(), Length(max=20)],
    )
    ref_code = SelectField(_l("Affiliate"), validators=[Optional()])
    external_payment_id = StringField(
        _l("Payment id (optional: one is made up)"), validators=[Optional(), Length(max=200)]
    )
    submit = SubmitField(_l("Record a test conversion"))
