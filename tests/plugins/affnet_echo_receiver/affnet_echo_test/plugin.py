"""The ``echo_test`` delivery kind: one JSON POST per event to the URL the
affiliate set, carrying the event's ``txid``. Written as a third party
would write a plugin; tests use it to count what the workers send."""

from affnet import hookimpl
from affnet.net import outbound_session
from affnet.plugins import DeliveryKind, DeliveryResult, NewDelivery, SettingField

KIND = DeliveryKind(
    name="echo_test",
    label="Echo receiver (tests)",
    scope="affiliate",
    fields=(SettingField("url", "Receiver URL", url=True, required=True),),
)


@hookimpl
def delivery_kinds():
    return [KIND]


@hookimpl
def deliveries_for_event(event, settings):
    if "echo_test" not in settings:
        return []
    return [NewDelivery("echo_test", {"txid": event.txid, "event": event.kind, "payout": str(event.payout)})]


@hookimpl
def send_deliveries(kind, deliveries, config):
    if kind != "echo_test":
        return None
    timeout = (config.get("affnet.timeout_seconds", 10), config.get("affnet.timeout_seconds", 10))
    results = []
    with outbound_session(allow_private=bool(config.get("affnet.allow_private_targets"))) as session:
        for delivery in deliveries:
            url = delivery.settings.get("url", "")
            try:
                response = session.post(url, json={**delivery.payload, "delivery_id": delivery.id}, timeout=timeout)
            except Exception as error:  # any fault of the receiver: try again later
                results.append(DeliveryResult(delivery.id, "retry", url=url, error=str(error)[:200]))
                continue
            outcome = "sent" if response.ok else "retry"
            results.append(
                DeliveryResult(
                    delivery.id,
                    outcome,
                    url=url,
                    status_code=response.status_code,
                    response_excerpt=response.text[:200],
                )
            )
    return results
