"""The forms of the pages (Flask-WTF: each carries a CSRF token)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, FileField, PasswordField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from ...core.network.users import MAX_PASSWORD, MIN_PASSWORD

_password = [DataRequired(), Length(min=MIN_PASSWORD, max=MAX_PASSWORD)]


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=MAX_PASSWORD)])
    submit = SubmitField(_l("Log in"))


class SignupForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=100)])
    email = EmailField(
        _l("Email"),
        validators=[
            DataRequired(),
            Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("This is not an email address.")),
            Length(max=254),
        ],
    )
    password = PasswordField(_l("Password"), validators=_password)
    confirm = PasswordField(_l("Password again"), validators=[EqualTo("password", _l("The passwords differ."))])
    submit = SubmitField(_l("Sign up"))


class NewPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=_password)
    confirm = PasswordField(_l("New password again"), validators=[EqualTo("password", _l("The passwords differ."))])
    submit = SubmitField(_l("Set the password"))


class ChangePasswordForm(NewPasswordForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=MAX_PASSWORD)])


class ProfileForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=100)])
    language = SelectField(
        _l("Language"),
        choices=[SelectChoice("", _l("The browser's")), SelectChoice("en", "English"), SelectChoice("es", "Español")],
    )
    submit = SubmitField(_l("Save"))


class ApplyForm(FlaskForm):
    note = TextAreaField(_l("A short note for the product owner (optional)"), validators=[Length(max=1000)])
    submit = SubmitField(_l("Apply"))


class TokenForm(FlaskForm):
    name = StringField(_l("Name (for example, the tracker that uses it)"), validators=[DataRequired(), Length(max=64)])
    submit = SubmitField(_l("Make a token"))


class ConfirmForm(FlaskForm):
    """A button that changes something: only its CSRF token."""

    submit = SubmitField(_l("Confirm"))


class ReferenceForm(FlaskForm):
    reference = StringField(_l("Transaction hash"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Complete"))


class ImportForm(FlaskForm):
    sheet = FileField(_l("The transfer file with its tx_hash column filled in"))
    submit = SubmitField(_l("Import the hashes"))
