"""Ready-made postback templates, one per tracker, in that tracker's own
parameter names.

Each preset is a template over affnet's macros (SPEC section 4). The host is a
placeholder: an affiliate replaces it with their tracker's postback address
(``affnet settings set postback --preset binom url=https://my-binom.com/click.php``
keeps the preset's parameters and takes the address from ``url``).

To add a tracker, append a ``Preset`` to ``PRESETS``: its ``name`` (what
affiliates type), ``label``, the ``template`` with the tracker's documented
parameter names on the left and affnet's macros on the right, and the page of
the tracker's documentation it follows. A test checks that every preset uses
only known macros and passes the click id.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    name: str
    label: str
    template: str
    docs: str
    notes: str = ""


PRESETS: tuple[Preset, ...] = (
    Preset(
        "keitaro",
        "Keitaro",
        "https://your-keitaro.example/postback?subid={clickid}&status={status}&payout={payout}&currency={currency}",
        "https://docs.keitaro.io/en/conversions/postback.html",
        "The SPEC's recommended template. Keitaro's statuses are lead, sale and rejected, the same as "
        "affnet's. Add &tid={txid} if your Keitaro offer allows rebills: Keitaro then counts each rebill "
        "as an extra sale.",
    ),
    Preset(
        "binom",
        "Binom",
        "https://your-binom.example/click.php?cnv_id={clickid}&payout={payout}&cnv_status={status}"
        "&cnv_currency={currency}",
        "https://docs.binom.org/postback-url.php",
        "cnv_id is Binom's click id; cnv_status takes any text (affnet sends lead, sale or rejected).",
    ),
    Preset(
        "voluum",
        "Voluum",
        "https://your-voluum.example/postback?cid={clickid}&payout={payout}&txid={txid}&currency={currency}&et={event}",
        "https://doc.voluum.com/en/postback_parameters.html",
        "cid is Voluum's click id; txid makes every event its own conversion; et (event type) carries "
        "affnet's event (lead, trial, sale, rebill, refund, chargeback) for Voluum's custom conversions.",
    ),
    Preset(
        "redtrack",
        "RedTrack",
        "https://your-redtrack.example/postback?clickid={clickid}&sum={payout}&type={event}",
        "https://help.redtrack.io/knowledgebase/kb/conversion-tracking/tracking-event-types/",
        "sum is the payout; type is a RedTrack conversion type: add lead, trial, sale, rebill, refund and "
        "chargeback under Tools > Conversion tracking > Conversion type (names are case-sensitive).",
    ),
    Preset(
        "generic",
        "Any tracker (GET)",
        "https://your-tracker.example/postback?clickid={clickid}&status={status}&event={event}&payout={payout}"
        "&currency={currency}&txid={txid}",
        "",
        "Every macro under a plain name; rename the parameters to what your tracker expects.",
    ),
)

PRESETS_BY_NAME = {preset.name: preset for preset in PRESETS}
PLACEHOLDER_SUFFIX = ".example"
