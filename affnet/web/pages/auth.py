"""Log in, log out, sign up, a new password by a one-time link, the account
page, two-factor log-in.

Log-in tries are limited per IP address and per account, sign-ups per IP
address (``accounts.*_rate_limit``); over a limit the page answers 429 and
says when to try again. A wrong password, an unknown email and a disabled
account all get the same answer. Logging out ends every session of the
account, on every device: the session lives in a signed cookie, so only a
new ``session_version`` makes a copy of it useless.

With two-factor log-in on, the right password does not log in yet: the
session holds only the account's id, its ``session_version`` and the time,
and the code page (``/login/code``) logs in once a code or a recovery code
is right, within ``CODE_MINUTES``; its tries count against the log-in limit,
per account. When the network requires two-factor log-in of a role
(``accounts.require_two_factor``, read at each request), an account of that
role without it reaches only its set-up page and the log-out.
"""

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required, login_user, logout_user
from markupsafe import Markup

from ...core import clock
from ...core.network import two_factor, users
from ...core.network.accounts import AccountError
from ...core.storage.models import User
from ...core.storage.rate_limits import rates
from .access import Account, home_of, me, services, shown_once
from .forms import ChangePasswordForm, LoginForm, NewPasswordForm, ProfileForm, SignupForm
from .two_factor_forms import DisableForm, EnableForm, LoginCodeForm, RecoveryCodesForm, StartForm

bp = Blueprint("auth", __name__)
PENDING = "two_factor_pending"  # the session key of a log-in waiting for its code
CODE_MINUTES = 5
# What an account the network requires two-factor log-in of may reach before it has it.
OPEN_BEFORE_TWO_FACTOR = {
    "auth.two_factor_page",
    "auth.two_factor_start",
    "auth.two_factor_enable",
    "auth.logout",
    "static",
}


class Limits:
    """Log-in and sign-up limits, counted in the app's ``RateLimits`` (this process, or Redis); the limits are
    network policies, read at each try."""

    # Someone at the code step knows the password already: besides the log-in limit, at most 50 guesses
    # of a code a day per account (three codes are right at a time: about one chance in 6,700 a day).
    CODE = "5 per minute; 20 per hour; 50 per day"

    def __init__(self, settings, counters):
        self.settings = settings
        self.counters = counters

    @property
    def login(self):
        return rates(self.settings["accounts.login_rate_limit"])

    @property
    def signup(self):
        return rates(self.settings["accounts.signup_rate_limit"])

    @property
    def code(self):
        return rates(self.CODE)

    @property
    def auto_approve(self) -> bool:
        """Read at each sign-up: a network policy the operator may change on the settings page."""
        return self.settings["accounts.auto_approve_affiliates"]

    def hit(self, limits, *keys: tuple[str, str]) -> int:
        """Count one try under each (namespace, value) key; 0 when allowed, else the seconds to wait."""
        return max(self.counters.hit(limits, *key, moving=True) for key in keys)


def _limits() -> Limits:
    return current_app.extensions["affnet_limits"]


def _too_many(wait: int, template: str, form):
    message = _("Too many tries. Try again in %(seconds)d seconds.", seconds=wait)
    page = render_template(template, form=form, error=message)
    return page, 429, {"Retry-After": str(wait)}


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(home_of(me()))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        wait = _limits().hit(_limits().login, ("login-ip", request.remote_addr or "-"), ("login-account", email))
        if wait:
            return _too_many(wait, "pages/login.html", form)
        user = users.authenticate(email, form.password.data)
        why = users.may_log_in(user) if user else "wrong"
        if why is None:
            if two_factor.is_enabled(user):
                session[PENDING] = {"user": user.id, "version": user.session_version, "at": _now()}
                return redirect(url_for("auth.login_code", next=_safe_next()))
            return _logged_in(user)
        error = (
            _("Your account waits for the network's approval.") if why == "pending" else _("Wrong email or password.")
        )
    return render_template("pages/login.html", form=form, error=error), 200 if error is None else 401


def _now() -> int:
    return clock.unix_seconds(clock.now())


def _logged_in(user: User):
    session.pop(PENDING, None)
    login_user(Account(user))
    users.record_login(user)
    return redirect(_safe_next() or home_of(user))


def _pending_user() -> User | None:
    """The account whose password was right a moment ago and whose code is still to come, or None
    (nothing pending, too late, or the account changed meanwhile)."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or _now() - int(pending.get("at", 0)) > CODE_MINUTES * 60:
        return None
    user = User.get_or_none(User.id == pending.get("user"))
    if user is None or user.session_version != pending.get("version") or users.may_log_in(user) is not None:
        return None
    return user if two_factor.is_enabled(user) else None


@bp.route("/login/code", methods=["GET", "POST"])
def login_code():
    if current_user.is_authenticated:
        return redirect(home_of(me()))
    user = _pending_user()
    if user is None:
        if session.pop(PENDING, None) is not None:
            flash(_("The time for the code has run out. Log in again."))
        return redirect(url_for("auth.login", next=_safe_next()))
    form = LoginCodeForm()
    error = None
    if form.validate_on_submit():
        wait = _limits().hit(_limits().login + _limits().code, ("login-code", str(user.id)))
        if wait:
            return _too_many(wait, "pages/two_factor_code.html", form)
        if two_factor.verify(user, form.code.data):
            return _logged_in(user)
        if two_factor.use_recovery_code(user, form.code.data):
            left = two_factor.recovery_codes_left(user)
            flash(
                ngettext(
                    "You logged in with a recovery code. %(num)d recovery code is left.",
                    "You logged in with a recovery code. %(num)d recovery codes are left.",
                    left,
                )
            )
            return _logged_in(user)
        error = _("That code is not right. Try the newest one your app shows.")
    return render_template("pages/two_factor_code.html", form=form, error=error), 200 if error is None else 401


def _safe_next() -> str | None:
    """The page asked for before the log-in, when it is one of ours."""
    target = request.args.get("next") or ""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else None


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        users.end_sessions(me())  # the cookie is signed, not stored: only a new version makes a copy of it useless
    logout_user()
    flash(_("You are logged out."))
    return redirect(url_for("auth.login"))


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(home_of(me()))
    form = SignupForm()
    error = None
    if form.validate_on_submit():
        wait = _limits().hit(_limits().signup, ("signup-ip", request.remote_addr or "-"))
        if wait:
            return _too_many(wait, "pages/signup.html", form)
        try:
            user = users.sign_up(form.email.data, form.password.data, form.name.data, _limits().auto_approve)
        except AccountError as refused:
            error = _("This email has an account already.") if "exists already" in str(refused) else str(refused)
        else:
            if user.approved_at is not None:
                login_user(Account(user))
                return redirect(home_of(user))
            flash(_("Thank you. The network will approve your account; then you can log in."))
            return redirect(url_for("auth.login"))
    return render_template("pages/signup.html", form=form, error=error)


@bp.get("/forgot")
def forgot():
    return render_template("pages/forgot.html")


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str):
    if users.reset_for(token) is None:
        return render_template("pages/reset.html", form=None, expired=True), 410
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            users.use_reset(token, form.password.data)
        except AccountError:
            return render_template("pages/reset.html", form=None, expired=True), 410
        logout_user()
        flash(_("Your password is set. Log in with it."))
        return redirect(url_for("auth.login"))
    return render_template("pages/reset.html", form=form, expired=False)


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    user = me()
    profile = ProfileForm(prefix="profile", obj=user)
    password = ChangePasswordForm(prefix="password")
    error = None
    if profile.submit.data and profile.validate_on_submit():
        users.set_profile(user, profile.name.data, profile.language.data)
        flash(_("Saved."))
        return redirect(url_for("auth.account"))
    if password.submit.data and password.validate_on_submit():
        try:
            users.change_password(user, password.current.data, password.password.data)
        except AccountError:
            error = _("The current password is not right.")
        else:
            login_user(Account(user))  # this session goes on; every other one has ended
            flash(_("Your password is changed. Your other sessions have ended."))
            return redirect(url_for("auth.account"))
    return render_template("pages/account.html", profile=profile, password=password, error=error, user=user)


@bp.before_app_request
def _require_two_factor():
    """Send an account the network requires two-factor log-in of, and that has none, to its set-up."""
    endpoint = request.endpoint or ""
    if endpoint in OPEN_BEFORE_TWO_FACTOR or endpoint.endswith(".static") or request.path == "/r":
        return None
    if request.path.startswith(("/api/", "/hooks/", "/static/")) or not current_user.is_authenticated:
        return None
    user = me()
    if two_factor.is_enabled(user) or not two_factor.required(user, services().settings):
        return None
    flash(_("The network requires two-factor log-in for your account: set it up to go on."))
    return redirect(url_for("auth.two_factor_page"))


_WHY = {
    "code": lambda: _("That code is not right. Try the newest one your app shows."),
    "password": lambda: _("The password is not right."),
}


def _refused(refusal: two_factor.TwoFactorError, **forms):
    why = _WHY.get(refusal.reason, lambda: _("This cannot be done now: reload the page and try again."))
    return _two_factor_page(error=why(), **forms)


def _two_factor_page(error=None, **forms):
    """The account's two-factor page: its state, the set-up while one is pending, the forms."""
    user = me()
    settings = services().settings
    pending = two_factor.is_pending(user)
    secret = two_factor.secret_of(user) if pending else ""
    qr = None
    if pending:
        uri = two_factor.provisioning_uri(user, secret, two_factor.issuer(settings["base_url"]))
        qr = Markup(two_factor.qr_svg(uri, title=_("QR code for your authenticator app")))
    page = render_template(
        "pages/two_factor.html",
        user=user,
        enabled=two_factor.is_enabled(user),
        pending=pending,
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        qr=qr,
        codes_left=two_factor.recovery_codes_left(user),
        required=two_factor.required(user, settings),
        start=forms.get("start") or StartForm(prefix="start"),
        enable=forms.get("enable") or EnableForm(prefix="enable", formdata=None),
        recovery=forms.get("recovery") or RecoveryCodesForm(prefix="recovery", formdata=None),
        disable=forms.get("disable") or DisableForm(prefix="disable", formdata=None),
        error=error,
    )
    return shown_once(page)  # the secret is on it while a set-up is pending


def _recovery_codes_page(codes: list[str]):
    page = render_template("pages/two_factor_codes.html", codes=codes)
    return shown_once(page)


@bp.get("/account/two-factor")
@login_required
def two_factor_page():
    return _two_factor_page()


@bp.post("/account/two-factor/start")
@login_required
def two_factor_start():
    if StartForm(prefix="start").validate_on_submit():
        try:
            two_factor.start(me())
        except two_factor.TwoFactorError:
            flash(_("Two-factor log-in is on already."))
    return redirect(url_for("auth.two_factor_page"))


@bp.post("/account/two-factor/enable")
@login_required
def two_factor_enable():
    form = EnableForm(prefix="enable")
    if not form.validate_on_submit():
        return _two_factor_page(enable=form)
    if not two_factor.is_pending(me()):
        flash(_("Start the set-up first."))
        return redirect(url_for("auth.two_factor_page"))
    try:
        codes = two_factor.confirm(me(), form.code.data)
    except two_factor.TwoFactorError as refusal:
        return _refused(refusal, enable=form)
    return _recovery_codes_page(codes)


@bp.post("/account/two-factor/recovery-codes")
@login_required
def two_factor_recovery_codes():
    form = RecoveryCodesForm(prefix="recovery")
    if not form.validate_on_submit():
        return _two_factor_page(recovery=form)
    try:
        codes = two_factor.new_recovery_codes(me(), form.code.data)
    except two_factor.TwoFactorError as refusal:
        return _refused(refusal, recovery=form)
    return _recovery_codes_page(codes)


@bp.post("/account/two-factor/disable")
@login_required
def two_factor_disable():
    if two_factor.required(me(), services().settings):
        flash(_("The network requires two-factor log-in for your account: it stays on."))
        return redirect(url_for("auth.two_factor_page"))
    form = DisableForm(prefix="disable")
    if not form.validate_on_submit():
        return _two_factor_page(disable=form)
    try:
        two_factor.disable(me(), form.password.data, form.code.data)
    except two_factor.TwoFactorError as refusal:
        return _refused(refusal, disable=form)
    flash(_("Two-factor log-in is off."))
    return redirect(url_for("auth.two_factor_page"))
