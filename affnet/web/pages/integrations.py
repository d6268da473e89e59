"""An offer's integrations with payment providers, as plugins declare them
(the ``offer_integrations`` hook): what to set up on the provider's side,
the signing secret (write-only), the snippets, the last webhook calls.

The secret is never shown again once saved: the page says when it was set
and its last four characters, and an empty field keeps the saved one. It is
stored encrypted through ``offer_secrets.set_offer_secret``, which records
the change in the audit log as ``{"changed": true}``.
"""

import logging

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SubmitField
from wtforms.validators import Length, Optional

from ...core.network import offer_secrets, webhook_calls
from ...core.storage.models import Offer
from ...plugins import OfferInfo, OfferIntegration
from ...plugins.manager import call_isolated
from .access import found_or_404, owned_offer, role_required, services

bp = Blueprint("integrations", __name__)
owner_only = role_required("advertiser", "admin")
SHOWN_CALLS = 20
log = logging.getLogger("affnet.pages")


class SecretForm(FlaskForm):
    value = PasswordField(_l("Secret"), validators=[Optional(), Length(max=500)])
    save = SubmitField(_l("Save the secret"))


def _base_url() -> str:
    return services().settings["base_url"].rstrip("/")


def integrations_of(offer: Offer) -> list[OfferIntegration]:
    """What the enabled plugins offer for ``offer``, sorted by name; one whose plugin fails is left out."""
    info = OfferInfo(offer.id, offer.slug, offer.name, offer.landing_url, offer.currency)
    declared = call_isolated(services().pm, "offer_integrations", offer=info, base_url=_base_url())
    found = [item for items in declared for item in items if isinstance(item, OfferIntegration)]
    return sorted(found, key=lambda item: item.name)


def available(offer) -> list[tuple[str, str]]:
    """(name, title) of each integration a plugin offers for this offer, the title in the page's language."""
    return [(item.name, _(item.title)) for item in integrations_of(offer)]


def _integration(offer: Offer, name: str) -> OfferIntegration:
    return found_or_404(next((item for item in integrations_of(offer) if item.name == name), None))


def _render(offer: Offer, integration: OfferIntegration, form: SecretForm, error: str | None = None):
    secret = integration.secret
    if secret is not None:
        form.value.label.text = _(secret.label)
    return render_template(
        "pages/owner/integration.html",
        offer=offer,
        integration=integration,
        form=form,
        error=error,
        saved=offer_secrets.offer_secret_saved(offer, secret.name) if secret else None,
        calls=webhook_calls.recent_calls(offer, integration.calls_source, SHOWN_CALLS)
        if integration.calls_source
        else None,
        shown=SHOWN_CALLS,
        helper_url=f"{_base_url()}/static/affnet.js",
    )


def _checked(integration: OfferIntegration, value: str) -> str | None:
    """Why the plugin refuses ``value`` (translated), or None. A check that raises refuses it."""
    if integration.check_secret is None:
        return None
    try:
        why = integration.check_secret(value)
    except Exception:
        log.exception("the check of the %s secret failed", integration.name)
        return _("This secret could not be checked; nothing was saved.")
    return _(why) if why else None


@bp.get("/owner/offers/<slug>/integrations/<name>")
@owner_only
def show(slug: str, name: str):
    offer = owned_offer(slug)
    return _render(offer, _integration(offer, name), SecretForm())


@bp.post("/owner/offers/<slug>/integrations/<name>/secret")
@owner_only
def set_secret(slug: str, name: str):
    offer = owned_offer(slug)
    integration = _integration(offer, name)
    if integration.secret is None:
        abort(404)
    form = SecretForm()
    if not form.validate_on_submit():
        return _render(offer, integration, form), 422
    value = (form.value.data or "").strip()
    saved = offer_secrets.offer_secret_saved(offer, integration.secret.name)
    if not value and saved:
        flash(_("Nothing was typed: the saved secret is kept."))
        return redirect(url_for("integrations.show", slug=slug, name=name))
    why = _("Type the secret to save it.") if not value else _checked(integration, value)
    if why:
        return _render(offer, integration, form, error=why), 422
    offer_secrets.set_offer_secret(offer, integration.secret.name, value)
    flash(_("The secret is saved. It is not shown again."))
    return redirect(url_for("integrations.show", slug=slug, name=name))
