"""Log in, log out, sign up, a new password by a one-time link, the account page.

Log-in tries are limited per IP address and per account, sign-ups per IP
address (``accounts.*_rate_limit``); over a limit the page answers 429 and
says when to try again. A wrong password, an unknown email and a disabled
account all get the same answer. Logging out ends every session of the
account, on every device: the session lives in a signed cookie, so only a
new ``session_version`` makes a copy of it useless.
"""

import math
import time

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from limits import parse_many
from limits.strategies import MovingWindowRateLimiter

from ...core.network import users
from ...core.network.accounts import AccountError
from ..api import limit_storage
from .access import Account, home_of, me
from .forms import ChangePasswordForm, LoginForm, NewPasswordForm, ProfileForm, SignupForm

bp = Blueprint("auth", __name__)


class Limits:
    """Log-in and sign-up limits (``limits``), in this process or Redis."""

    def __init__(self, settings):
        self.limiter = MovingWindowRateLimiter(limit_storage(settings["ingest.rate_limit_storage"]))
        self.login = parse_many(settings["accounts.login_rate_limit"])
        self.signup = parse_many(settings["accounts.signup_rate_limit"])
        self.auto_approve = settings["accounts.auto_approve_affiliates"]

    def hit(self, rates, *keys: tuple[str, str]) -> int:
        """Count one try under each (namespace, value) key; 0 when allowed, else the seconds to wait."""
        wait = 0
        for rate in rates:
            for key in keys:
                if not self.limiter.hit(rate, *key):
                    reset, _ = self.limiter.get_window_stats(rate, *key)
                    wait = max(wait, math.ceil(reset - time.time()), 1)
        return wait


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
            login_user(Account(user))
            users.record_login(user)
            return redirect(_safe_next() or home_of(user))
        error = (
            _("Your account waits for the network's approval.") if why == "pending" else _("Wrong email or password.")
        )
    return render_template("pages/login.html", form=form, error=error), 200 if error is None else 401


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
