"""The forms of two-factor log-in: the code at log-in, and set-up, new recovery codes and turning it off."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from ...core.network.users import MAX_PASSWORD


def _code(label):
    return StringField(label, validators=[DataRequired(), Length(max=32)])


class LoginCodeForm(FlaskForm):
    code = _code(_l("The 6-digit code of your authenticator app, or a recovery code"))
    submit = SubmitField(_l("Log in"))


class StartForm(FlaskForm):
    submit = SubmitField(_l("Set up two-factor log-in"))


class EnableForm(FlaskForm):
    code = _code(_l("The 6-digit code your app shows now"))
    submit = SubmitField(_l("Turn on two-factor log-in"))


class RecoveryCodesForm(FlaskForm):
    code = _code(_l("The 6-digit code your app shows now"))
    submit = SubmitField(_l("Make new recovery codes"))


class DisableForm(FlaskForm):
    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=MAX_PASSWORD)])
    code = _code(_l("The 6-digit code your app shows now, or a recovery code"))
    submit = SubmitField(_l("Turn off two-factor log-in"))
