"""Words the pages translate from data (an event's kind, a status, a role):
listed here so the catalogs hold them."""

from flask_babel import lazy_gettext as _l

WORDS = (
    _l("lead"), _l("trial"), _l("sale"), _l("rebill"), _l("refund"), _l("chargeback"),
    _l("pending"), _l("approved"), _l("rejected"), _l("paused"),
    _l("affiliate"), _l("advertiser"), _l("admin"),
    _l("sent"), _l("failed"),
)  # fmt: skip
