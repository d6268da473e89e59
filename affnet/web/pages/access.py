"""Who may see a page: the logged-in account, its role, what it owns."""

from functools import wraps

from flask import abort, current_app, url_for
from flask_login import UserMixin, current_user, login_required

from ...core.storage.models import User

HOMES = {"affiliate": "affiliate.dashboard", "advertiser": "owner.offers", "admin": "operator.health"}


class Account(UserMixin):
    """The logged-in account as Flask-Login sees it. Its session id holds
    the account's ``session_version``: raising it ends the session."""

    def __init__(self, user: User):
        self.user = user
        self.id = user.id

    def get_id(self) -> str:
        return f"{self.user.id}.{self.user.session_version}"

    @property
    def is_active(self) -> bool:
        return self.user.is_active and self.user.approved_at is not None


def home_of(user: User) -> str:
    return url_for(HOMES[user.role])


def role_required(*roles: str):
    """A page for these roles only: others get 403, visitors the log-in page."""

    def decorate(view):
        @wraps(view)
        @login_required
        def checked(*args, **kwargs):
            if current_user.user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return checked

    return decorate


def me() -> User:
    return current_user.user


def services():
    """The app's services (settings, plugins, the recorder)."""
    return current_app.extensions["affnet"]


def found_or_404(found):
    """``found``, or a 404 answer when there is nothing (``None``)."""
    if found is None:
        abort(404)
    return found


def owned_offer(slug: str):
    """The offer with this slug when the logged-in account owns it (the operator owns every one), else 404:
    another owner's offer is not found, never forbidden, so its slug tells nothing."""
    from ...core.storage.models import Offer

    offer = Offer.get_or_none(Offer.slug == slug)
    if offer is None or (me().role != "admin" and offer.advertiser_id != me().id):
        abort(404)
    return offer


def shown_once(page: str, status: int = 200):
    """A page that shows a secret once (a new key, recovery codes, a reset link): no cache may keep it."""
    return page, status, {"Cache-Control": "no-store"}
