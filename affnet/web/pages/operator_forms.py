"""The forms of the operator's pages (Flask-WTF: each carries a CSRF token), and the words they show for
roles, states and network policies."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from ...core.network import policy

ROLE_LABELS = {"admin": _l("operator"), "advertiser": _l("product owner"), "affiliate": _l("affiliate")}
USER_STATES = {"waiting": _l("waiting for approval"), "active": _l("active"), "disabled": _l("deactivated")}
PARTICIPATION_LABELS = {
    "pending": _l("waiting for a decision"),
    "approved": _l("approved"),
    "paused": _l("paused"),
    "rejected": _l("rejected"),
}
# What each decision button of a participation does, by the status it sets.
DECISIONS = {"approved": _l("Approve"), "paused": _l("Pause"), "rejected": _l("Reject")}

# The network policies as the settings page names and explains them (the config file's help is for the file).
POLICY_LABELS = {
    "accounts.auto_approve_affiliates": (
        _l("Approve sign-ups at once"),
        _l("Yes: an affiliate who signs up can log in at once. No: you approve each sign-up on the users page."),
    ),
    "accounts.require_two_factor": (
        _l("Require two-factor log-in"),
        _l("Yes: operators and product owners must set up two-factor log-in before they reach any other page."),
    ),
    "tracking.fallback_url": (
        _l("Fallback URL"),
        _l("Where a link with an unknown, paused or unapproved ref goes; empty shows a 404 page."),
    ),
    "settings.change_delay_hours": (
        _l("Delay of changed postback and pixel settings (hours)"),
        _l("The 24-hour rule: how long a changed setting waits before it takes effect."),
    ),
    "payouts.mode": (
        _l("Payout mode"),
        _l("Review: a run's payouts wait for your approval. Auto: they are sent at once."),
    ),
    "payouts.weekday": (_l("Day of the weekly payout run"), _l("The worker follows a change within a minute.")),
    "payouts.time": (_l("Time of the weekly payout run"), _l("Server time, HH:MM, such as 10:00.")),
    "payouts.minimum": (
        _l("Payout minimum"),
        _l("The smallest payable balance a run pays, in each currency without a minimum of its own."),
    ),
    "payouts.minimums": (
        _l("Minimums per currency"),
        _l("Currencies with a minimum of their own, written JPY=7000, EUR=40; empty for none."),
    ),
    "ingest.rate_limit": (
        _l("Ingest calls per offer key"),
        _l("Such as 120000 per minute; over it a call answers 429 with Retry-After."),
    ),
    "stats_api.rate_limit": (
        _l("Stats and report API calls per token"),
        _l("Such as 60 per minute; over it a call answers 429 with Retry-After."),
    ),
    "accounts.login_rate_limit": (
        _l("Log-in tries per address and per account"),
        _l("Such as 10 per minute; over it the log-in page answers 429."),
    ),
    "accounts.signup_rate_limit": (_l("Sign-ups per address"), _l("Such as 5 per hour.")),
    "tracking.click_rate_limit": (
        _l("Clicks per address before they are flagged"),
        _l("Such as 120 per minute. Clicks over it are still redirected and recorded, but flagged and never unique."),
    ),
}
ORIGINS = {
    "database": _l("saved on this page"),
    "file": _l("the config file"),
    "environment": _l("an environment variable"),
    "default": _l("the default"),
    "override": _l("given by the program that started affnet"),
}
_YES_NO = [SelectChoice("true", _l("Yes")), SelectChoice("false", _l("No"))]
_CHOICES = {
    "payouts.mode": [SelectChoice("review", _l("Review")), SelectChoice("auto", _l("Auto"))],
    "payouts.weekday": [
        SelectChoice("monday", _l("Monday")),
        SelectChoice("tuesday", _l("Tuesday")),
        SelectChoice("wednesday", _l("Wednesday")),
        SelectChoice("thursday", _l("Thursday")),
        SelectChoice("friday", _l("Friday")),
        SelectChoice("saturday", _l("Saturday")),
        SelectChoice("sunday", _l("Sunday")),
    ],
}


def form_name(key: str) -> str:
    """A policy's field name in the form (``payouts.minimum`` -> ``payouts__minimum``)."""
    return key.replace(".", "__")


def policy_form_class():
    """A form with one field per network policy: a choice where the key has few values, else text. The
    values are checked by the config file's own parser when saved, not here."""
    attributes = {}
    for key in policy.POLICY_KEYS:
        label, hint = POLICY_LABELS.get(key, (key, ""))
        field = policy.FIELDS_BY_KEY[key]
        if key in _CHOICES:
            attributes[form_name(key)] = SelectField(label, choices=_CHOICES[key], description=hint)
        elif isinstance(field.default, bool):
            attributes[form_name(key)] = SelectField(label, choices=_YES_NO, description=hint)
        else:
            attributes[form_name(key)] = StringField(label, validators=[Optional(), Length(max=2000)], description=hint)
    attributes["save"] = SubmitField(_l("Save"))
    return type("PolicyForm", (FlaskForm,), attributes)


class ResetPolicyForm(FlaskForm):
    key = SelectField(_l("Setting"), choices=[SelectChoice(key, key) for key in policy.POLICY_KEYS])
    submit = SubmitField(_l("Back to the file's value"))


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=[SelectChoice(role, label) for role, label in ROLE_LABELS.items()])
    submit = SubmitField(_l("Change the role"))


class DecisionForm(FlaskForm):
    status = SelectField(_l("Decision"), choices=[SelectChoice(status, label) for status, label in DECISIONS.items()])
    note = TextAreaField(_l("Note for the affiliate (optional)"), validators=[Length(max=1000)])


class UserFilterForm(FlaskForm):
    """The users page's filter (a GET form: no CSRF token)."""

    class Meta:
        csrf = False

    role = SelectField(
        _l("Role"),
        choices=[SelectChoice("", _l("Every role"))] + [SelectChoice(r, label) for r, label in ROLE_LABELS.items()],
        validators=[Optional()],
    )
    state = SelectField(
        _l("State"),
        choices=[SelectChoice("", _l("Every state"))] + [SelectChoice(s, label) for s, label in USER_STATES.items()],
        validators=[Optional()],
    )
    email = StringField(_l("Email contains"), validators=[Optional(), Length(max=254)])


class ParticipationFilterForm(FlaskForm):
    """The participations page's filter (a GET form: no CSRF token); the offers are set by the view."""

    class Meta:
        csrf = False

    status = SelectField(
        _l("Status"),
        choices=[SelectChoice("", _l("Every status"))]
        + [SelectChoice(status, label) for status, label in PARTICIPATION_LABELS.items()],
        validators=[Optional()],
    )
    offer = SelectField(_l("Offer"), choices=[], validators=[Optional()], validate_choice=False)
