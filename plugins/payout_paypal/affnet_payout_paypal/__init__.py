"""Payouts to affiliates' PayPal accounts: the ``paypal`` payout method.

Enable it with ``plugins.enabled = ["payout_paypal"]``, set the operator's
REST app with ``affnet payouts credentials`` (``client_id``, ``client_secret``)
and, for live money, ``[plugin.payout_paypal] base_url =
"https://api-m.paypal.com"`` (the default is the sandbox).

- ``plugin``: the hooks (the method, its fields, its config keys);
- ``recipient``: the affiliate's PayPal email, the currencies and amounts;
- ``tokens``: OAuth2 access tokens, cached per app until shortly before they expire;
- ``client``: HTTP calls to PayPal with a token, renewed once on a 401;
- ``payouts``: ``send`` and ``poll``, PayPal's answers read as ``PayoutResult``.

The shapes follow PayPal's documentation, not guesses:

- Authentication, https://developer.paypal.com/api/rest/authentication/ :
  ``POST /v1/oauth2/token`` with HTTP basic auth ``client_id:secret`` and
  ``grant_type=client_credentials``; the answer holds ``access_token`` and
  ``expires_in`` (seconds).
- Payouts v1 reference, https://developer.paypal.com/api/payments.payouts-batch/v1/
  (its OpenAPI file, ``openapi/payments_payouts_batch_v1.json`` in
  github.com/paypal/paypal-rest-api-specifications): ``POST
  /v1/payments/payouts`` (``sender_batch_header`` with ``sender_batch_id``
  and ``email_subject``; ``items`` with ``recipient_type``, ``receiver``,
  ``amount {value, currency}``, ``sender_item_id``, ``note``; 201 with
  ``batch_header.payout_batch_id`` and ``batch_status``; the
  ``PayPal-Request-Id`` header, "the server stores keys for 30 days"),
  ``GET /v1/payments/payouts/{id}`` (``batch_header.batch_status`` in DENIED,
  PENDING, PROCESSING, SUCCESS, CANCELED; ``items[].transaction_status`` in
  SUCCESS, FAILED, PENDING, UNCLAIMED, RETURNED, ONHOLD, BLOCKED, REFUNDED,
  REVERSED, with ``errors {name, message}``), and the error body
  ``{name, message, debug_id, details[{field, issue, description}], links}``.
- The ``sender_batch_id`` note of that reference
  (https://developer.paypal.com/api/payments.payouts-batch/v1/definitions/sender_batch_header):
  a ``sender_batch_id`` used in the last 30 days is refused "with an error
  message that shows the duplicate sender_batch_id and includes a HATEOAS
  link to the original payout"; after a 5xx the same request may be made
  again. The reference gives that error only in words; its body, as the
  sandbox answers it (HTTP 400, ``USER_BUSINESS_ERROR``, a detail with
  ``field`` ``SENDER_BATCH_ID``, ``issue`` "Batch with given sender_batch_id
  already exists" and ``link[].href`` to the original batch), is taken from
  sandbox answers quoted in public client code and tests.
- Idempotency, https://developer.paypal.com/reference/guidelines/idempotency :
  a POST repeated with a ``PayPal-Request-Id`` already used returns the
  latest status of the first request instead of doing it again.
- Track payout item status, handle unclaimed payouts, cancel or reverse
  payouts (https://developer.paypal.com/payouts/use-payouts/track-payout-item-status,
  .../handle-unclaimed-payouts, .../cancel-reverse-payouts): an UNCLAIMED item
  expires after 30 days and PayPal returns the money to the sender; until
  then the sender may cancel it.
- PayPal-supported currencies,
  https://developer.paypal.com/docs/reports/reference/paypal-supported-currencies/ :
  the currency list; HUF, JPY and TWD are zero-digit at PayPal; BRL, CNY and
  MYR only for in-country accounts.
"""
